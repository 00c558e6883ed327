// A worker's links to the main thread, apart from Piscina's task port: the
// control block (protocol.ts CONTROL BLOCK), the reply port that answers
// share requests and guest calls, the comlink control port, the call lane
// (engine/lane/layout.ts) and the hello that hands all of them over.
//
// Shared objects are named by key in task messages; the first time a worker
// meets a key it asks the main thread (ShareRequest) and blocks on its control
// block until the answer is on its reply port. Guest-initiated calls leave
// the same way (GuestCallRequest) and wait on a call slot.

import { MessageChannel, parentPort, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { CwasiError } from '../errors.js';
import { exitAtUnlockWhenAsked } from '../memory/heap-lock.js';
import { LANE_BYTES } from '../lane/layout.js';
import {
  CALL_SLOTS, CALL_SLOTS_OFFSET, CALL_SLOT_BYTES, CONTROL_BLOCK_BYTES, CTRL_EXIT_REQUEST, CTRL_SHARE_STATE,
  SHARE_ANSWERED, SHARE_IDLE, SHARE_WAITING, SLOT_FREE, SLOT_STATE,
  type GuestCallReply, type ReleaseToken, type ReplyMessage, type ShareReply, type ShareRequest, type WorkerHello,
} from './protocol.js';

const controlBuffer = new SharedArrayBuffer(CONTROL_BLOCK_BYTES);
/** The control block, as words. */
export const ctl = new Int32Array(controlBuffer);
// A cancelled task's worker that holds a heap lock exits at its unlock (exit-request.ts).
exitAtUnlockWhenAsked(ctl, CTRL_EXIT_REQUEST >> 2);

const replyChannel = new MessageChannel();
const replyPort = replyChannel.port1;
/** The worker's end of the comlink control port (control.ts). */
export const controlChannel = new MessageChannel();
/** The call lane's records and its message port (lane-server.ts). */
export const laneBuffer = new SharedArrayBuffer(LANE_BYTES);
export const laneChannel = new MessageChannel();
let helloSent = false;

export function sendHello(): void {
  if (helloSent || parentPort === null) return;
  helloSent = true;
  const hello: WorkerHello = {
    type: 'cwasi:hello', threadId, replyPort: replyChannel.port2, control: controlBuffer, controlPort: controlChannel.port2,
    lane: laneBuffer, lanePort: laneChannel.port2,
  };
  parentPort.postMessage(hello, [replyChannel.port2, controlChannel.port2, laneChannel.port2]);
}

/** Guest-call replies that arrived while waiting for something else. */
export const earlyReplies = new Map<number, GuestCallReply>();
const earlyShares = new Map<string, ShareReply>();
/** Slots whose caller gave up (deadline); their late replies are released and dropped. */
export const abandoned = new Set<number>();

let release: (token: ReleaseToken) => void = () => {};

/** Who gives back what a late reply to an abandoned call holds. */
export function onAbandonedRelease(fn: (token: ReleaseToken) => void): void {
  release = fn;
}

export function drainReplies(): void {
  for (;;) {
    const m = receiveMessageOnPort(replyPort);
    if (m === undefined) return;
    const msg = m.message as ReplyMessage;
    if (msg.type === 'cwasi:shared') {
      earlyShares.set(msg.key, msg);
      continue;
    }
    if (abandoned.has(msg.slot)) {
      abandoned.delete(msg.slot);
      if (msg.ok && msg.release) release(msg.release);
      Atomics.store(ctl, slotIndex(msg.slot, SLOT_STATE), SLOT_FREE);
      continue;
    }
    earlyReplies.set(msg.slot, msg);
  }
}

/** How long a worker waits for the main thread to answer a share request. */
const SHARE_TIMEOUT_MS = 10_000;

/** Ask the main thread for a shared object and block until it answers. */
export function requestShared(key: string): ShareReply {
  sendHello();
  Atomics.store(ctl, CTRL_SHARE_STATE >> 2, SHARE_WAITING);
  const req: ShareRequest = { type: 'cwasi:share', threadId, key };
  parentPort!.postMessage(req);
  const deadline = Date.now() + SHARE_TIMEOUT_MS;
  // The main thread posts the reply, then stores ANSWERED and notifies.
  while (Atomics.load(ctl, CTRL_SHARE_STATE >> 2) !== SHARE_ANSWERED) {
    const left = deadline - Date.now();
    if (left <= 0) {
      Atomics.store(ctl, CTRL_SHARE_STATE >> 2, SHARE_IDLE);
      throw new CwasiError('E_INTERNAL', `the main thread did not answer a request for ${key}`);
    }
    Atomics.wait(ctl, CTRL_SHARE_STATE >> 2, SHARE_WAITING, left);
  }
  Atomics.store(ctl, CTRL_SHARE_STATE >> 2, SHARE_IDLE);
  drainReplies();
  const reply = earlyShares.get(key);
  earlyShares.delete(key);
  if (reply === undefined) throw new CwasiError('E_INTERNAL', `no answer for ${key} on the reply port`);
  return reply;
}

/** Word index of a field of a guest-call slot in the control block. */
export function slotIndex(slot: number, field: number): number {
  return (CALL_SLOTS_OFFSET + slot * CALL_SLOT_BYTES + field) >> 2;
}

export function allocSlot(): number {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < CALL_SLOTS; i++) {
      if (abandoned.has(i)) continue;
      // Only this thread moves a slot out of FREE, so a plain check suffices.
      if (Atomics.load(ctl, slotIndex(i, SLOT_STATE)) === SLOT_FREE) return i;
    }
    // Replies to abandoned calls free their slots once read.
    drainReplies();
  }
  throw new CwasiError('E_QUEUE_FULL', `more than ${CALL_SLOTS} guest calls in flight in one worker`);
}
