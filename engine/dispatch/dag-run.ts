// One invocation of a workflow with more than one segment: opens one transfer
// per planned edge on its channel, launches every segment as soon as its
// inputs are ready (or early, where the channel lets the consumer wait on
// its producer), hands each producer's output to its consumers and frees it
// once they have all finished. A single segment with no edges takes the short
// path (runSingle), the common case of invoking one function.

import { CwasiError, asCwasiError } from '../errors.js';
import { releaseKept, type Produced, type Transfer } from '../channels/channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import type { SegmentRunner } from './segment-runner.js';
import type { MemoryGroup } from '../coordinator.js';
import { now, type Invocation } from './invocation.js';
import type { EdgeReport, InputArena, InvocationReport, Plan, PlannedEdge, Segment, SegmentResult, SegmentRun } from './types.js';
import { edgeSpan, type EdgeSpan } from '../trace/channels.js';
import type { RunSuccess } from '../specs.js';

interface SegmentState {
  inputs: Array<InputSpec | undefined>;
  missing: number;
  launched: boolean;
  produced: Produced | undefined;
  consumersLeft: number;
  released: boolean;
}

export class DagRun {
  private readonly outputs: OutputSpec[];
  private readonly transfers = new Map<PlannedEdge, Transfer>();
  /** `cwasi:edge` spans of the planned edges, while someone observes. */
  private readonly spans = new Map<PlannedEdge, EdgeSpan>();
  private readonly state: SegmentState[];
  private readonly report: InvocationReport;
  private readonly inputArenas: InputArena[] = [];
  private failure: unknown;
  /** The failure so far is a live consumer's that may follow from its producer's (fail()). */
  private failureDownstream = false;
  private running = 0;
  private settle!: () => void;
  private readonly allSettled = new Promise<void>((r) => (this.settle = r));

  /** `lean`: the caller only wants the output; per-step and per-edge records are not built. */
  constructor(
    private readonly runner: SegmentRunner,
    private readonly plan: Plan,
    private readonly inv: Invocation,
    private readonly startedAt: number,
    private readonly lean: boolean,
  ) {
    const segs = plan.segments;
    this.outputs = segs.map((s): OutputSpec => ({ keep: false, bytes: s.returnsBytes }));
    this.state = segs.map((s) => ({
      inputs: new Array<InputSpec | undefined>(s.inEdges.length),
      missing: s.inEdges.length,
      launched: false,
      produced: undefined,
      consumersLeft: s.outEdges.length,
      released: false,
    }));
    this.report = {
      target: plan.target, output: new Uint8Array(0), outputs: {}, edges: [], steps: [], startedAt, finishedAt: 0, latencyMs: 0, logs: [],
    };
  }

  /** Run the whole graph; resolves with the report, or rejects with the first failure once every task settled. */
  async run(input: Uint8Array | InputSpec): Promise<InvocationReport> {
    const { plan, runner } = this;
    try {
      this.openTransfers();
      const early = this.startingEarly();
      for (const pe of plan.edges) this.transfers.get(pe)!.prepareOutput(this.outputs[pe.from.id]!, early.has(pe.to));
      // Entry segments get the invocation input; consumers of streaming edges start alongside their producers.
      for (const seg of plan.segments) {
        if (seg.inEdges.length > 0) continue;
        const spec = runner.entryInput(seg, input, this.inputArenas, this.inv);
        this.launch(seg, [spec instanceof Promise ? await spec : spec], early);
      }
      for (const [seg, inputs] of early) this.launch(seg, inputs, early);
    } catch (err) {
      this.fail(err);
    }
    if (this.running > 0) await this.allSettled;
    // Free whatever is still held (failures, outputs nobody consumed).
    for (const pe of this.transfers.keys()) this.finishEdge(pe, this.failure === undefined);
    for (const seg of plan.segments) await this.releaseProduced(seg);
    runner.releaseInputs(this.inputArenas);
    if (this.failure !== undefined) throw this.failure;
    const report = this.report;
    const out = report.outputs[plan.graph.output];
    if (out === undefined) throw new CwasiError('E_INTERNAL', `${plan.target}: the output function produced no bytes`);
    report.output = out;
    report.finishedAt = now();
    report.latencyMs = report.finishedAt - this.startedAt;
    return report;
  }

  /** The memory a segment's output lies in: its last step's (a local edge chained in one task crosses memories). */
  private outputGroup(seg: Segment): MemoryGroup {
    return seg.steps.length === 1 ? seg.group : this.runner.fn(seg.steps[seg.steps.length - 1]!)?.group ?? seg.group;
  }

  private openTransfers(): void {
    const { plan, inv, runner } = this;
    for (const pe of plan.edges) {
      const t = pe.channel.open({
        from: pe.edge.from, to: pe.edge.to, mode: pe.selection.mode,
        producerGroup: this.outputGroup(pe.from).ref(), consumerGroup: pe.to.group.ref(),
        transferId: `${inv.id}.${pe.edge.index}`, deadline: inv.deadline,
        ...(inv.trace !== undefined ? { traceparent: inv.trace.traceparent } : {}),
        ...(pe.live ? { live: true } : {}),
        ...(pe.windowBytes !== undefined ? { windowBytes: pe.windowBytes } : {}),
        ...(pe.live ? { onBroken: (err: CwasiError) => this.fail(err) } : {}),
      });
      this.transfers.set(pe, t);
      const span = edgeSpan(inv.trace, {
        kind: 'edge', from: pe.edge.from, to: pe.edge.to, mode: pe.selection.mode, node: runner.hostName,
        invocationId: inv.id, bytes: -1, copies: pe.channel.copies,
      });
      if (span !== undefined) this.spans.set(pe, span);
      runner.modeCounts[pe.selection.mode]++;
    }
    for (const c of plan.chained) {
      runner.modeCounts[c.selection.mode]++;
      // Edge byte counts of chained edges are not measured (-1).
      if (!this.lean) this.report.edges.push({ from: c.edge.from, to: c.edge.to, mode: c.selection.mode, reason: c.selection.reason, bytes: -1 });
    }
  }

  /**
   * Consumers that start before their producers finished (every in-edge's
   * channel gives an early input), with those inputs. One that would wait in a
   * worker of this pool starts early only while a worker is free for it, so
   * that waiting never takes a worker from other work (the entry segments,
   * launched first, take theirs).
   */
  private startingEarly(): Map<Segment, InputSpec[]> {
    const self = this.runner.hostName;
    const segs = this.plan.segments;
    let free = this.runner.freeWorkers() - segs.filter((s) => s.inEdges.length === 0 && s.group.host === self).length;
    const early = new Map<Segment, InputSpec[]>();
    for (const seg of segs) {
      if (seg.inEdges.length === 0) continue;
      const inputs = seg.inEdges.map((pe) => this.transfers.get(pe)!.earlyInput?.());
      if (!inputs.every((e) => e !== undefined)) continue;
      const here = seg.group.host === self;
      // A live consumer reads a ring in a worker of this pool, however its channel carries the stream.
      const waits = seg.inEdges.map((pe) => pe.live || pe.channel.startsConsumerEarly === 'while-a-worker-is-free');
      if (here && free <= 0 && waits.includes(true)) continue;
      if (here) free--;
      // A consumer waiting on a descriptor may poll near the time its producer usually takes.
      early.set(seg, (inputs as InputSpec[]).map((spec, i) => {
        const readyAt = here && waits[i] && spec.kind === 'ring' ? this.runner.expectedReadyAt(seg.inEdges[i]!.from) : undefined;
        return readyAt === undefined ? spec : { ...spec, readyAt };
      }));
    }
    return early;
  }

  /**
   * A consumer of `seg` that runs in its task, right after it (a
   * continuation): one that does not start early, has no other producer, and
   * whose steps all live in the memory where `seg` keeps its output.
   */
  private continuationOf(seg: Segment, early: ReadonlyMap<Segment, InputSpec[]>): Segment | undefined {
    const { runner } = this;
    if (seg.group.host !== runner.hostName) return undefined;
    const memory = runner.fn(seg.steps[seg.steps.length - 1]!)?.group;
    for (const pe of seg.outEdges) {
      const c = pe.to;
      if (pe.channel.continuesInProducerTask !== true || pe.live || early.has(c) || this.state[c.id]!.launched || c.inEdges.length !== 1) continue;
      // Its replica limits are counted per task: such a consumer keeps a task of its own.
      if (c.steps.every((fn) => runner.fn(fn)?.group === memory && runner.fn(fn)?.replicas === undefined)) return c;
    }
    return undefined;
  }

  private launch(seg: Segment, inputs: InputSpec[], early: ReadonlyMap<Segment, InputSpec[]> = new Map()): void {
    const next = this.continuationOf(seg, early);
    const run: SegmentRun = next === undefined ? seg : { steps: seg.steps, group: seg.group, then: { steps: next.steps, output: this.outputs[next.id]! } };
    const task = this.runner.run(run, inputs, this.outputs[seg.id]!, this.inv);
    this.track(seg, task.then((r) => this.produced(seg, r)));
    if (next === undefined) return;
    // The continuation settles after its producer's output was recorded (produced() sets it first).
    this.track(next, task.then((r) => {
      if (r.then === undefined) throw new CwasiError('E_INTERNAL', `${next.steps[0]}: its producer's task returned no continuation result`);
      if (!r.then.ok) throw r.then.error;
      return this.produced(next, { result: r.then.result, group: r.group });
    }, () => {
      // The producer failed (its own track reports it): the continuation never ran.
    }));
  }

  /** A launched segment: it counts as running until `work` settles; a failure fails the invocation. */
  private track(seg: Segment, work: Promise<void>): void {
    this.state[seg.id]!.launched = true;
    this.running++;
    work
      .catch((err) => {
        publishChained(this.runner, this.plan, this.inv, seg, undefined, err);
        // A consumer whose live producer has not finished may have failed only
        // because that producer did (its stream was aborted): the producer's
        // own failure, when it comes, is the invocation's.
        const downstream = seg.inEdges.some((pe) => pe.live && this.state[pe.from.id]!.produced === undefined);
        // A segment that fails on its channel after the invocation failed found
        // what fail() did to it (its ring aborted, or dropped: "ring N is gone"
        // for a producer that started late): that failure, not this one, is the cause.
        const consequence = this.failure !== undefined && err instanceof CwasiError && err.code === 'E_CHANNEL';
        this.consumerFinished(seg, false);
        this.fail(consequence ? this.failure : err, downstream);
      })
      .finally(() => {
        if (--this.running === 0) this.settle();
      });
  }

  /** A segment finished: record it, then hand its output to every consumer that has not started. */
  private async produced(seg: Segment, { result, group }: SegmentResult): Promise<void> {
    const st = this.state[seg.id]!;
    const report = this.report;
    const produced: Produced = { result, group };
    const kvKey = this.outputs[seg.id]!.kv?.key;
    if (kvKey !== undefined) produced.kvKey = kvKey;
    st.produced = produced;
    if (!this.lean) result.timings.forEach((t) => report.steps.push({ ...t, group: this.runner.fn(t.fn)?.group.id ?? seg.group.id, threadId: result.threadId }));
    if (result.logs) report.logs.push(...result.logs);
    const last = seg.steps[seg.steps.length - 1]!;
    if (seg.returnsBytes && result.bytes !== undefined) report.outputs[last] = result.bytes;
    publishChained(this.runner, this.plan, this.inv, seg, result);
    for (const pe of seg.outEdges) {
      const span = this.spans.get(pe);
      if (span !== undefined) span.event.bytes = result.outputLength;
    }
    this.consumerFinished(seg, true);
    if (this.failure !== undefined) return;
    for (const pe of seg.outEdges) {
      if (!this.lean) report.edges.push(edgeReport(pe, result.outputLength));
      const cst = this.state[pe.to.id]!;
      if (cst.launched) continue;
      cst.inputs[pe.to.inEdges.indexOf(pe)] = await this.transfers.get(pe)!.inputFor(produced);
      if (--cst.missing === 0 && this.failure === undefined) this.launch(pe.to, cst.inputs as InputSpec[]);
    }
    if (seg.outEdges.length === 0) await this.releaseProduced(seg);
  }

  /** `downstream`: the failure may follow from a live producer's, which then replaces it. */
  private fail(err: unknown, downstream = false): void {
    if (this.failure === undefined || (this.failureDownstream && !downstream)) {
      this.failure = err;
      this.failureDownstream = downstream;
    }
    // Wake anything blocked on a ring of this invocation.
    for (const [pe, t] of this.transfers) {
      if (!this.state[pe.to.id]!.launched || this.state[pe.to.id]!.produced === undefined) this.finishEdge(pe, false, t);
    }
    // A step still running on another node may be waiting for a stream from
    // the one that failed, which will never come: end the invocation with this
    // failure now, which cancels it there, instead of at the deadline.
    const self = this.runner.hostName;
    // Not for a failure that may follow from a live producer's: that producer (perhaps the
    // step still running there) is about to report its own, which must not be replaced by this one.
    const remoteWaiting = this.plan.segments.some((s) => s.group.host !== self && this.state[s.id]!.launched && this.state[s.id]!.produced === undefined);
    if (remoteWaiting && !downstream) this.inv.abort(asCwasiError(err));
  }

  private consumerFinished(seg: Segment, ok: boolean): void {
    for (const pe of seg.inEdges) {
      // A consumer whose output goes on may have returned its input in place
      // (the output lies in what the edge received): the edge's resources then
      // live until that output is released (releaseProduced).
      if (!ok || seg.outEdges.length === 0) this.finishEdge(pe, ok);
      const pst = this.state[pe.from.id]!;
      pst.consumersLeft--;
      if (pst.consumersLeft === 0) void this.releaseProduced(pe.from);
    }
  }

  private async releaseProduced(seg: Segment): Promise<void> {
    const st = this.state[seg.id]!;
    if (st.released || st.produced === undefined) return;
    st.released = true;
    try {
      await this.releaseOutput(seg, st.produced);
    } finally {
      if (seg.outEdges.length > 0) for (const pe of seg.inEdges) this.finishEdge(pe, true);
    }
  }

  /** The edge's consumer finished (ok) or the invocation failed: free the transfer, settle its span. */
  private finishEdge(pe: PlannedEdge, ok: boolean, t = this.transfers.get(pe)): void {
    t?.finish(ok);
    const span = this.spans.get(pe);
    if (span !== undefined) span.settle(ok ? undefined : this.failure ?? new CwasiError('E_INTERNAL', 'the edge did not complete'));
  }

  private async releaseOutput(seg: Segment, produced: Produced): Promise<void> {
    const channels = new Set(seg.outEdges.map((e) => e.channel));
    // An output kept in memory that no channel consumed (a sink) is freed like any kept output.
    if (channels.size === 0) releaseKept(produced);
    for (const ch of channels) {
      try {
        await ch.release(produced);
      } catch {
        // freeing failed: the memory is discarded elsewhere if it is corrupt
      }
    }
  }
}

/** One segment, no channels: the common case of invoking a function (or an embedded chain). */
export async function runSingle(runner: SegmentRunner, plan: Plan, input: Uint8Array | InputSpec, inv: Invocation, startedAt: number, lean: boolean): Promise<InvocationReport> {
  const seg = plan.segments[0]!;
  const arenas: InputArena[] = [];
  try {
    let result: RunSuccess;
    try {
      const spec = runner.entryInput(seg, input, arenas, inv);
      ({ result } = await runner.run(seg, [spec instanceof Promise ? await spec : spec], { keep: false, bytes: true }, inv));
    } catch (err) {
      publishChained(runner, plan, inv, seg, undefined, err);
      throw err;
    }
    publishChained(runner, plan, inv, seg, result);
    const output = result.bytes;
    if (output === undefined) throw new CwasiError('E_INTERNAL', `${plan.target}: the output function produced no bytes`);
    const last = seg.steps[seg.steps.length - 1]!;
    for (const c of plan.chained) runner.modeCounts[c.selection.mode]++;
    const finishedAt = now();
    return {
      target: plan.target,
      output,
      outputs: lean ? {} : { [last]: output },
      edges: lean ? [] : plan.chained.map((c) => ({ from: c.edge.from, to: c.edge.to, mode: c.selection.mode, reason: c.selection.reason, bytes: -1 })),
      steps: lean ? [] : result.timings.map((t) => ({ ...t, group: runner.fn(t.fn)?.group.id ?? seg.group.id, threadId: result.threadId })),
      startedAt,
      finishedAt,
      latencyMs: finishedAt - startedAt,
      logs: result.logs ?? [],
    };
  } finally {
    runner.releaseInputs(arenas);
  }
}

/**
 * `cwasi:edge` spans (kind 'chained') of the edges run inside one task, published
 * once the task settled: its steps handed over in place (one memory) or with one
 * host copy (two memories). Bytes are the producing step's output, when it ran.
 */
function publishChained(runner: SegmentRunner, plan: Plan, inv: Invocation, seg: Segment, result: RunSuccess | undefined, error?: unknown): void {
  if (inv.trace === undefined || plan.chained.length === 0) return;
  for (const c of plan.chained) {
    if (!seg.steps.includes(c.edge.from)) continue;
    const sameMemory = runner.fn(c.edge.from)?.group === runner.fn(c.edge.to)?.group;
    const span = edgeSpan(inv.trace, {
      kind: 'chained', from: c.edge.from, to: c.edge.to, mode: c.selection.mode, node: runner.hostName,
      invocationId: inv.id, bytes: result?.timings.find((t) => t.fn === c.edge.from)?.outputBytes ?? -1, copies: sameMemory ? 0 : 1,
    });
    if (span === undefined) return;
    span.settle(result === undefined ? asCwasiError(error) : undefined);
  }
}

function edgeReport(pe: PlannedEdge, bytes: number): EdgeReport {
  return { from: pe.edge.from, to: pe.edge.to, mode: pe.selection.mode, reason: pe.selection.reason, bytes };
}
