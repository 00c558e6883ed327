// The guest-call service: calls that functions start from inside and that
// leave their worker (GuestCallRequest) arrive here through the gate
// (engine/guest-calls.ts). Each is served over its mode's channel
// (Channel.openCall) as a one-step invocation joined to the caller's, and
// answered on the caller's reply port and call slot.

import type { MessagePort } from 'node:worker_threads';
import { CwasiError, asCwasiError, toErrorRecord, type ErrorRecord } from '../errors.js';
import { STATUS, statusOf } from '../abi.js';
import type { CallTransfer } from '../channels/channel.js';
import { GuestCallGate, type GuestCallLimits } from '../guest-calls.js';
import { CALL_SLOTS_OFFSET, CALL_SLOT_BYTES, SLOT_DONE, SLOT_STATE, SLOT_STATUS, type GuestCallReply, type GuestCallRequest } from '../worker/protocol.js';
import { Invocation, type DeadlineSweeper } from './invocation.js';
import type { DispatchContext, SegmentResult } from './types.js';
import type { WorkerRegistry } from './worker-registry.js';
import { edgeSpan, tracingWanted } from '../trace/channels.js';
import { startSpan } from '../trace/context.js';

export class GuestCallService {
  /** Admits guest calls within their limits, a bounded number per turn of the event loop. */
  readonly gate: GuestCallGate;
  /** Guest calls in flight per calling worker thread. */
  private readonly callers = new Map<number, number>();
  private nextSweepId = 1;

  constructor(
    private readonly ctx: DispatchContext,
    private readonly registry: WorkerRegistry,
    private readonly sweeper: DeadlineSweeper,
    private readonly counters: { guestCalls: number },
    limits: GuestCallLimits,
  ) {
    this.gate = new GuestCallGate(limits, (req) => this.serve(req), (req, err) => {
      const link = this.registry.workers.get(req.threadId);
      if (link !== undefined) this.replyToCall(link, req, { type: 'cwasi:reply', slot: req.slot, ok: false, error: toErrorRecord(err) as ErrorRecord }, statusOf(err));
    });
  }

  /** A worker posted a call. */
  push(req: GuestCallRequest): void {
    this.gate.push(req);
  }

  /** Serve one call. (One method: its admission, channel, run and reply share the call's cleanups, in order.) */
  private async serve(req: GuestCallRequest): Promise<void> {
    const link = this.registry.workers.get(req.threadId);
    if (link === undefined) return;
    this.counters.guestCalls++;
    this.callers.set(req.threadId, (this.callers.get(req.threadId) ?? 0) + 1);
    let reply: GuestCallReply;
    let status: number = STATUS.OK;
    const cleanups: Array<() => void | Promise<void>> = [];
    let calleeOk = false;
    try {
      const parent = this.ctx.invocations.get(req.invocationId);
      let callee = this.ctx.coordinator.get(req.target);
      const cluster = this.ctx.cluster;
      if (callee === undefined && cluster !== undefined) {
        // Deployed on another node of the cluster: learn where from the registry.
        await cluster.lookupRemote(req.target);
        callee = this.ctx.coordinator.get(req.target);
      }
      if (callee === undefined) throw new CwasiError('E_UNKNOWN_FUNCTION', `${req.caller} called "${req.target}", which is not deployed`);
      // Checked after the name, so a call to nothing is -1 however busy the pool is.
      if (this.callers.size >= this.ctx.options.maxThreads) {
        // Every worker the pool may have is a caller waiting on a call: the callee could never run.
        throw new CwasiError('E_QUEUE_FULL', `every worker is waiting on a guest call; ${req.caller} → ${req.target} refused to avoid a deadlock`);
      }
      const sel = this.ctx.coordinator.select(req.caller, req.target, parent?.opts.guestCallMode);
      let inv = parent;
      if (inv === undefined) {
        inv = new Invocation(req.invocationId, req.target, req.deadline, {});
        if (req.traceparent !== undefined && tracingWanted(req.traceparent)) inv.trace = startSpan(req.traceparent);
        const own = inv;
        own.onAbort = () => this.registry.cancelTasks(own);
        const sweepId = -this.nextSweepId++;
        this.sweeper.add(sweepId, req.deadline, () => own.abort(new CwasiError('E_TIMEOUT', `${req.target}: deadline exceeded`)));
        cleanups.push(() => this.sweeper.delete(sweepId));
      }
      const channel = this.ctx.channel(sel.mode);
      if (channel?.openCall === undefined) throw new CwasiError('E_CONFIG', `guest calls over ${sel.mode} are not available in this engine`);
      this.ctx.modeCounts[sel.mode]++;
      const p = req.payload;
      const call: CallTransfer = await channel.openCall({
        caller: req.caller, callee: req.target, payload: p, callerHeap: () => this.ctx.memoryGroupOf(p).heap,
        callId: `${process.pid}.${req.threadId}.${req.slot}.${this.counters.guestCalls}`, deadline: req.deadline,
      });
      cleanups.push(() => call.finish(calleeOk));
      const span = edgeSpan(inv.trace, {
        kind: 'call', from: req.caller, to: req.target, mode: sel.mode, node: this.ctx.coordinator.hostName,
        invocationId: inv.id, bytes: p.len, copies: channel.copies,
      });
      const { input, output } = call;
      let ran: SegmentResult;
      try {
        ran = await this.ctx.runSegment({ steps: [req.target], group: callee.group }, [input], output, inv, req.depth);
      } catch (err) {
        span?.settle(asCwasiError(err, 'E_GUEST_CALL'));
        throw err;
      }
      span?.settle();
      const { result, group } = ran;
      calleeOk = true;
      if (result.kept !== undefined) {
        reply = {
          type: 'cwasi:reply', slot: req.slot, ok: true, mode: sel.mode,
          result: { kind: 'foreign', groupId: group.id, generation: group.generation, ptr: result.kept.ptr, len: result.kept.len },
          release: { groupId: group.id, generation: group.generation, arenas: result.kept.arenas },
        };
      } else if (result.bytes !== undefined) {
        reply = { type: 'cwasi:reply', slot: req.slot, ok: true, mode: sel.mode, result: { kind: 'bytes', bytes: result.bytes } };
      } else {
        throw new CwasiError('E_INTERNAL', 'guest call result carries no output');
      }
    } catch (err) {
      const e = asCwasiError(err, 'E_GUEST_CALL');
      status = statusOf(e);
      reply = { type: 'cwasi:reply', slot: req.slot, ok: false, error: toErrorRecord(e) as ErrorRecord };
    } finally {
      const n = (this.callers.get(req.threadId) ?? 1) - 1;
      if (n === 0) this.callers.delete(req.threadId);
      else this.callers.set(req.threadId, n);
      for (const c of cleanups) await c();
    }
    this.replyToCall(link, req, reply, status);
  }

  private replyToCall(link: { port: MessagePort; control: Int32Array }, req: GuestCallRequest, reply: GuestCallReply, status: number): void {
    // Post the reply first, then publish DONE: the woken caller finds it on its port.
    link.port.postMessage(reply);
    const base = CALL_SLOTS_OFFSET + req.slot * CALL_SLOT_BYTES;
    Atomics.store(link.control, (base + SLOT_STATUS) >> 2, status);
    Atomics.store(link.control, (base + SLOT_STATE) >> 2, SLOT_DONE);
    Atomics.notify(link.control, (base + SLOT_STATE) >> 2);
  }
}
