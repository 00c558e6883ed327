// The call bridge of one memory group's instances in a worker: a guest call
// to a member of the same embedding group runs inline (embeddedPeer); any
// other leaves through the worker's control block (main-link.ts): the
// request is posted to the main thread, the worker spins briefly and then
// sleeps on its slot until the reply is stored, and the result is taken in
// place (same memory) or placed into the caller's memory.

import { parentPort, threadId } from 'node:worker_threads';
import { CwasiError } from '../errors.js';
import type { Heap } from '../memory/heap.js';
import { placeInput } from '../channels/endpoints.js';
import type { PlaceTarget } from '../channels/channel.js';
import { STATUS, statusOf } from '../abi.js';
import type { CallBridge, GuestInstance, InvocationContext, RemoteCall } from './host.js';
import { abandoned, allocSlot, ctl, drainReplies, earlyReplies, sendHello, slotIndex } from './main-link.js';
import { SLOT_FREE, SLOT_PENDING, SLOT_STATE, SLOT_STATUS, type GroupInstall, type GuestCallRequest, type ReleaseToken } from './protocol.js';

/** Spin this long for a reply before sleeping (a wake costs ~25 µs). */
const CALL_SPIN_MS = 0.05;

/** What the bridge needs from the worker that owns the group. */
export interface BridgeHost {
  /** The group's memory and instances, as the worker holds them. */
  group: { install: GroupInstall; heap: Heap };
  /** Record an arena a call created (the task journal). */
  onArena(id: number): void;
  /** The instance of a member of the group (created on first use). */
  instanceFor(fn: string): GuestInstance;
  /** Where a result placed into the group's memory goes. */
  placeTarget(ctx: InvocationContext): PlaceTarget;
  /** Give back what a reply holds in another memory. */
  releaseToken(token: ReleaseToken): void;
}

/** The call bridge of one group's instances. (Long only as an object literal: each method is short.) */
export function makeBridge(host: BridgeHost): CallBridge {
  const { group, releaseToken } = host;
  return {
    recordArena: (arena) => host.onArena(arena.id),
    abandon(call) {
      if (Atomics.load(ctl, slotIndex(call.slot, SLOT_STATE)) === SLOT_PENDING) {
        abandoned.add(call.slot);
        return;
      }
      // Answered already: free the slot and whatever the reply holds.
      drainReplies();
      const reply = earlyReplies.get(call.slot);
      earlyReplies.delete(call.slot);
      if (reply?.ok && reply.release) releaseToken(reply.release);
      Atomics.store(ctl, slotIndex(call.slot, SLOT_STATE), SLOT_FREE);
    },
    embeddedPeer(_ctx, target) {
      if (!group.install.embedded || group.install.modules[target] === undefined) return undefined;
      return host.instanceFor(target);
    },
    start(ctx, target, payload): RemoteCall {
      sendHello();
      const slot = allocSlot();
      // Publish PENDING before the request can be answered.
      Atomics.store(ctl, slotIndex(slot, SLOT_STATE), SLOT_PENDING);
      const req: GuestCallRequest = {
        type: 'cwasi:call', threadId, slot, invocationId: ctx.invocationId, caller: ctx.fn, target,
        payload: { groupId: group.install.groupId, generation: group.install.generation, ptr: payload.ptr, len: payload.len },
        deadline: ctx.deadline,
        depth: ctx.callDepth + 1,
      };
      if (ctx.traceparent !== undefined) req.traceparent = ctx.traceparent;
      parentPort!.postMessage(req);
      return { slot };
    },
    wait(ctx, call) {
      const state = slotIndex(call.slot, SLOT_STATE);
      const spinUntil = performance.now() + CALL_SPIN_MS;
      while (Atomics.load(ctl, state) === SLOT_PENDING) {
        if (performance.now() < spinUntil) continue;
        const left = ctx.deadline - Date.now();
        if (left <= 0) {
          abandoned.add(call.slot);
          return { status: STATUS.ABORTED, error: new CwasiError('E_TIMEOUT', `${ctx.fn}: deadline passed waiting for a call`) };
        }
        // Sleeps until the dispatcher stores DONE and notifies (or the deadline).
        Atomics.wait(ctl, state, SLOT_PENDING, Math.min(left, 1000));
      }
      const status = Atomics.load(ctl, slotIndex(call.slot, SLOT_STATUS));
      let reply = earlyReplies.get(call.slot);
      if (reply === undefined) {
        drainReplies();
        reply = earlyReplies.get(call.slot);
      }
      earlyReplies.delete(call.slot);
      Atomics.store(ctl, state, SLOT_FREE);
      if (reply === undefined) {
        return { status: STATUS.CALL_FAILED, error: new CwasiError('E_INTERNAL', 'guest call completed without a reply') };
      }
      if (!reply.ok) return { status: status || STATUS.CALL_FAILED, error: CwasiError.fromRecord(reply.error) };
      const r = reply.result;
      if (r.kind === 'foreign' && r.groupId === group.install.groupId && r.generation === group.install.generation) {
        // The callee shares this memory: take its result in place and keep its arenas with the caller's.
        if (!group.heap.inBounds(r.ptr, r.len)) return { status: STATUS.CALL_FAILED, error: new CwasiError('E_BAD_DESCRIPTOR', 'call result outside the memory') };
        for (const a of reply.release?.arenas ?? []) ctx.extraArenas.push({ id: a.id, head: a.head });
        return { status: STATUS.OK, result: { ptr: r.ptr, len: r.len } };
      }
      const target = host.placeTarget(ctx);
      try {
        const result = placeInput(r, target);
        // Results come as bytes or a slice of another memory, placed synchronously.
        if (result instanceof Promise) throw new CwasiError('E_INTERNAL', `guest call result of kind ${r.kind}`);
        return { status: STATUS.OK, result };
      } catch (err) {
        const e = err instanceof CwasiError ? err : new CwasiError('E_CHANNEL', String(err));
        return { status: statusOf(e), error: e };
      } finally {
        if (reply.release) releaseToken(reply.release);
      }
    },
  };
}
