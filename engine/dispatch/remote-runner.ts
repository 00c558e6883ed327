// The remote runner: runs a segment placed on another node of the cluster.
// Its inputs travel inline or as Networked Buffer streams from where they lie;
// its output comes back as bytes, stays held there, or streams on.

import { CwasiError, asCwasiError } from '../errors.js';
import { newTransferId } from '../channels/networked.js';
import { INLINE_MAX_BYTES, type RemoteInput, type RemoteOutput, type RunResultMeta } from '../cluster/protocol.js';
import type { InputSpec, OutputSpec, RunSuccess } from '../specs.js';
import type { Invocation } from './invocation.js';
import type { MemoryGroup } from '../coordinator.js';
import type { ClusterContext, Segment, SegmentResult } from './types.js';

/**
 * Run a segment placed on another node. (One function: the streams it opens,
 * the retry after a redeploy and the cancelling on failure share its state.)
 */
export async function runRemote(
  cluster: ClusterContext | undefined, memoryGroupOf: (ref: { groupId: string; generation: number }) => MemoryGroup,
  seg: Pick<Segment, 'steps' | 'group'>, inputs: InputSpec[], output: OutputSpec, inv: Invocation,
): Promise<SegmentResult> {
  const host = seg.group.host;
  if (cluster === undefined) {
    throw new CwasiError('E_CONFIG', `${seg.steps[0]} is placed on host "${host}", but this engine is not part of a cluster`);
  }
  const { remote } = cluster;
  const self = remote.self;
  // An input that cannot be streamed (the dial refused or failed, the stream
  // broken) fails the run at once: the run request is cancelled, so the far
  // node stops waiting for that stream, instead of both sides waiting out the deadline.
  const sendFailed = new AbortController();
  const signal = AbortSignal.any([inv.signal, sendFailed.signal]);
  const sends: Array<Promise<void>> = [];
  const transfers: string[] = [];
  const newTransfer = () => {
    const t = newTransferId(self);
    transfers.push(t);
    return t;
  };
  const stream = (bytes: Uint8Array): RemoteInput => {
    if (bytes.length <= INLINE_MAX_BYTES) return { kind: 'inline', base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
    const transfer = newTransfer();
    const p = remote.send(host, transfer, bytes, inv.deadline, inv.trace?.traceparent);
    p.catch((err: unknown) => {
      const cause = asCwasiError(err, 'E_NET');
      sendFailed.abort(new CwasiError(cause.code === 'E_TIMEOUT' ? 'E_TIMEOUT' : 'E_NET', `an input of ${seg.steps[0]} could not be streamed to node "${host}": ${cause.message}`, undefined, { cause }));
    });
    sends.push(p);
    return { kind: 'stream', transfer, from: self };
  };
  const remoteInputs: RemoteInput[] = inputs.map((spec): RemoteInput => {
    switch (spec.kind) {
      case 'bytes': return stream(spec.bytes);
      case 'shared':
      case 'foreign': {
        // Bytes in a memory of this node: stream them from where they lie.
        const g = memoryGroupOf(spec);
        if (!g.heap.inBounds(spec.ptr, spec.len)) throw new CwasiError('E_BAD_DESCRIPTOR', `slice [${spec.ptr}, +${spec.len}) is outside memory ${g.id}`);
        return stream(g.heap.bytes().subarray(spec.ptr, spec.ptr + spec.len));
      }
      case 'net': return { kind: 'stream', transfer: spec.transfer, from: spec.from, ...(spec.live ? { live: true as const } : {}), ...(spec.windowBytes !== undefined ? { windowBytes: spec.windowBytes } : {}) };
      case 'held':
        if (spec.host !== host) throw new CwasiError('E_INTERNAL', `output held on ${spec.host} handed to a step on ${host}`);
        return { kind: 'held', held: spec.held };
      case 'kv': return spec;
      case 'ring': throw new CwasiError('E_INTERNAL', 'a ring cannot reach another node');
    }
  });
  const out: RemoteOutput = { hold: output.hold === true, sendTo: (output.net ?? []).map((n) => ({ node: n.node, address: n.address, transfer: n.transfer, ...(n.live ? { live: n.live } : {}) })) };
  if (output.kv) out.kv = output.kv;
  let returned: Promise<Uint8Array> | undefined;
  if (output.bytes) {
    out.returnTransfer = newTransfer();
    returned = remote.expect(out.returnTransfer, host, (n) => new Uint8Array(n), inv.deadline);
    returned.catch(() => {});
  }
  try {
    const request = {
      invocationId: inv.id, deadline: inv.deadline, steps: seg.steps, inputs: remoteInputs, output: out,
      ...(inv.opts.guestCallMode ? { guestCallMode: inv.opts.guestCallMode } : {}),
      ...(inv.trace !== undefined ? { traceparent: inv.trace.traceparent } : {}),
    };
    let meta: RunResultMeta;
    try {
      meta = await remote.run(host, request, signal);
    } catch (err) {
      // A node that restarted has lost its functions: deploy them again, once, and retry
      // (streamed inputs wait unclaimed there: a node refuses unknown steps before claiming any).
      if (!(err instanceof CwasiError && err.code === 'E_UNKNOWN_FUNCTION')) throw err;
      await cluster.redeploy(host);
      meta = await remote.run(host, request, signal);
    }
    const result: RunSuccess = { ok: true, threadId: meta.threadId, outputLength: meta.outputLength, timings: meta.timings };
    if (meta.logs) result.logs = meta.logs;
    if (meta.held !== undefined) result.held = meta.held;
    if (meta.kvChunks !== undefined) result.kvChunks = meta.kvChunks;
    if (returned !== undefined) {
      if (meta.inlineBase64 !== undefined) {
        remote.cancel(out.returnTransfer!, 'returned inline');
        result.bytes = new Uint8Array(Buffer.from(meta.inlineBase64, 'base64'));
      } else {
        result.bytes = await returned;
      }
    }
    return { result, group: seg.group.ref() };
  } catch (err) {
    for (const t of transfers) remote.cancel(t, 'the remote run failed');
    if (inv.aborted) throw inv.reason!;
    throw err;
  } finally {
    await Promise.allSettled(sends);
  }
}
