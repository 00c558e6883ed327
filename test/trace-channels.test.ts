// diagnostics_channel tracing: a subscriber to `cwasi:invoke` and `cwasi:edge`
// sees start/end/asyncStart/asyncEnd (and error) events with the documented
// fields for a three-function workflow in embedded and local mode and across
// two engine nodes (networked), all under the trace id of the traceparent the
// caller passed; the node that runs a remote segment publishes under the same
// trace id, learnt from the sealed run request and the stream's OPEN frame.
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import type { EdgeEvent, InvokeEvent } from '../engine/trace/channels.js';
import { newCluster, node } from './helpers/cluster-attack.js';

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
interface Seen<T> { phase: Phase; ctx: T }

const invokes: Array<Seen<InvokeEvent>> = [];
const edges: Array<Seen<EdgeEvent>> = [];
function recorder<T>(into: Array<Seen<T>>): Record<Phase, (ctx: unknown) => void> {
  const on = (phase: Phase) => (ctx: unknown): void => {
    into.push({ phase, ctx: ctx as T });
  };
  return { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
}
const invokeSubscriber = recorder(invokes);
const edgeSubscriber = recorder(edges);
const invokeChannel = diagnostics_channel.tracingChannel('cwasi:invoke');
const edgeChannel = diagnostics_channel.tracingChannel('cwasi:edge');

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT}-01`;
const HEX16 = /^[0-9a-f]{16}$/;

let engine: Engine;

test.before(async () => {
  invokeChannel.subscribe(invokeSubscriber);
  edgeChannel.subscribe(edgeSubscriber);
  engine = await Engine.create({ threads: 2, timeoutMs: 30_000 });
  const flow = (name: string, trusted: boolean, second = 'transform') => ({
    name,
    functions: {
      [`${name}-p`]: { module: second === 'trap' ? 'identity' : 'producer', trusted, domain: name },
      [`${name}-t`]: { module: second, trusted, domain: name },
      [`${name}-k`]: { module: 'checksum', trusted, domain: name },
    },
    edges: [{ from: `${name}-p`, to: `${name}-t` }, { from: `${name}-t`, to: `${name}-k` }],
  });
  await engine.deploy(flow('emb', true));
  await engine.deploy(flow('loc', false));
  await engine.deploy(flow('emb-trap', true, 'trap'));
  await engine.deploy(flow('loc-trap', false, 'trap'));
});

test.after(async () => {
  await engine?.close();
  invokeChannel.unsubscribe(invokeSubscriber);
  edgeChannel.unsubscribe(edgeSubscriber);
});

function clear(): void {
  invokes.length = 0;
  edges.length = 0;
}

const phases = <T>(seen: Array<Seen<T>>, ctx: T) => seen.filter((s) => s.ctx === ctx).map((s) => s.phase);

/** The one invocation span seen, with its phases checked. */
function oneInvocation(target: string, failed: boolean): InvokeEvent {
  const ctxs = [...new Set(invokes.map((s) => s.ctx))];
  assert.is(ctxs.length, 1, 'one invocation span');
  const ev = ctxs[0]!;
  assert.equal(phases(invokes, ev), failed ? ['start', 'end', 'error', 'asyncStart', 'asyncEnd'] : ['start', 'end', 'asyncStart', 'asyncEnd']);
  assert.is(ev.target, target);
  assert.is(ev.node, 'local');
  assert.ok(ev.invocationId > 0);
  assert.is(ev.traceId, TRACE_ID);
  assert.is(ev.parentSpanId, PARENT);
  assert.match(ev.spanId, HEX16);
  assert.is(ev.traceparent, `00-${TRACE_ID}-${ev.spanId}-01`);
  assert.ok((ev.latencyMs ?? -1) >= 0);
  return ev;
}

/** Every edge span seen, each with its phases checked, in the order they started. */
function edgeSpans(inv: InvokeEvent): EdgeEvent[] {
  const ctxs = [...new Set(edges.map((s) => s.ctx))];
  for (const e of ctxs) {
    assert.equal(phases(edges, e), e.error === undefined ? ['start', 'end', 'asyncStart', 'asyncEnd'] : ['start', 'end', 'error', 'asyncStart', 'asyncEnd'], `${e.from}->${e.to}`);
    assert.is(e.traceId, TRACE_ID);
    assert.is(e.parentSpanId, inv.spanId, 'a child of the invocation span');
    assert.match(e.spanId, HEX16);
    assert.is(e.invocationId, inv.invocationId);
    assert.is(e.node, 'local');
  }
  return ctxs;
}

const SIZE = 96 * 1024;

test('embedded: one invocation span and two chained edges, zero copies, the bytes each step produced', async () => {
  clear();
  const out = await engine.invoke('emb', workloads.producerSpec(SIZE, 3), { traceparent: TRACEPARENT });
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.transform(workloads.produce(SIZE, 3))), length: SIZE }]);
  const inv = oneInvocation('emb', false);
  assert.is(inv.inputBytes, workloads.producerSpec(SIZE, 3).byteLength);
  assert.is(inv.outputBytes, out.byteLength);
  const es = edgeSpans(inv);
  assert.equal(es.map((e) => [e.kind, e.from, e.to, e.mode, e.bytes, e.copies]), [
    ['chained', 'emb-p', 'emb-t', 'embedded', SIZE, 0],
    ['chained', 'emb-t', 'emb-k', 'embedded', SIZE, 0],
  ]);
});

test('local: two edges in mode local, at least one copy each, the bytes moved', async () => {
  clear();
  const out = await engine.invoke('loc', workloads.producerSpec(SIZE, 4), { traceparent: TRACEPARENT });
  assert.equal(workloads.readChecksums(out)[0]!.length, SIZE);
  const inv = oneInvocation('loc', false);
  const es = edgeSpans(inv);
  assert.is(es.length, 2);
  for (const e of es) {
    assert.is(e.mode, 'local');
    assert.ok(e.kind === 'edge' || e.kind === 'chained', e.kind);
    assert.is(e.bytes, SIZE);
    assert.ok(e.copies >= 1);
  }
  assert.equal(es.map((e) => `${e.from}->${e.to}`).sort(), ['loc-p->loc-t', 'loc-t->loc-k']);
});

for (const [name, mode] of [['emb-trap', 'embedded'], ['loc-trap', 'local']] as const) {
  test(`${mode}: a trapping step ends the invocation span and the edges it broke with an error event`, async () => {
    clear();
    let thrown: unknown;
    try {
      await engine.invoke(name, Uint8Array.of(1), { traceparent: TRACEPARENT });
    } catch (err) {
      thrown = err;
    }
    assert.instance(thrown, CwasiError);
    const inv = oneInvocation(name, true);
    assert.is(inv.error, thrown, 'the error event carries the error the caller got');
    const es = edgeSpans(inv);
    const into = es.find((e) => e.to === `${name}-k`);
    assert.ok(into !== undefined && into.error !== undefined, 'the edge into the step that never ran failed');
    assert.is((into.error as CwasiError).code, (thrown as CwasiError).code);
  });
}

test('an invalid traceparent starts a new trace instead of failing the call', async () => {
  clear();
  await engine.invoke('emb', workloads.producerSpec(8, 1), { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
  const ev = invokes[0]!.ctx;
  assert.match(ev.traceId, /^[0-9a-f]{32}$/);
  assert.is.not(ev.traceId, '0'.repeat(32));
  assert.is(ev.parentSpanId, undefined);
});

test('with nobody subscribed nothing is published and calls still work', async () => {
  invokeChannel.unsubscribe(invokeSubscriber);
  edgeChannel.unsubscribe(edgeSubscriber);
  try {
    assert.is(invokeChannel.hasSubscribers, false);
    clear();
    const out = await engine.invoke('loc', workloads.producerSpec(1024, 5));
    assert.is(workloads.readChecksums(out)[0]!.length, 1024);
    assert.is(invokes.length + edges.length, 0);
  } finally {
    invokeChannel.subscribe(invokeSubscriber);
    edgeChannel.subscribe(edgeSubscriber);
  }
});

test('networked across two nodes: one trace id on both; the far node publishes its segments and the streams it received', async () => {
  const { cluster, secret } = newCluster('trace');
  const b = await node(cluster, secret, 'b');
  const coord = await node(cluster, secret, 'coord');
  try {
    await coord.deploy({
      name: 'net',
      functions: { p: { module: 'producer', host: 'b' }, t: { module: 'transform' }, k: { module: 'checksum', host: 'b' } },
      edges: [{ from: 'p', to: 't' }, { from: 't', to: 'k' }],
    });
    assert.equal(coord.plan('net').edges.map((e) => e.mode), ['networked', 'networked']);
    clear();
    const out = await coord.invoke('net', workloads.producerSpec(SIZE, 6), { traceparent: TRACEPARENT });
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.transform(workloads.produce(SIZE, 6))), length: SIZE }]);
    // Stream spans settle when their last byte lands; the invocation may resolve a turn earlier.
    const until = Date.now() + 5000;
    while (edges.filter((s) => s.phase === 'asyncEnd').length < 4 && Date.now() < until) await new Promise((r) => setImmediate(r));

    const invCtxs = [...new Set(invokes.map((s) => s.ctx))];
    assert.ok(invCtxs.every((e) => e.traceId === TRACE_ID), 'every invocation span on both nodes has the trace id');
    const top = invCtxs.find((e) => e.node === 'coord' && e.remote === undefined)!;
    assert.ok(top !== undefined, 'the coordinating invocation');
    assert.is(top.parentSpanId, PARENT);
    const onB = invCtxs.filter((e) => e.node === 'b');
    assert.equal(onB.map((e) => e.remote!.steps[0]).sort(), ['k', 'p'], 'b ran p and k for coord');
    for (const e of onB) {
      assert.is(e.remote!.coordinator, 'coord');
      assert.is(e.parentSpanId, top.spanId, "a child of the coordinator's invocation span (sealed run request)");
      assert.equal(phases(invokes, e), ['start', 'end', 'asyncStart', 'asyncEnd']);
    }

    const edgeCtxs = [...new Set(edges.map((s) => s.ctx))];
    assert.ok(edgeCtxs.every((e) => e.traceId === TRACE_ID), 'every edge span has the trace id');
    const planned = edgeCtxs.filter((e) => e.kind === 'edge');
    assert.equal(planned.map((e) => [e.from, e.to, e.mode, e.node, e.bytes, e.copies]), [
      ['p', 't', 'networked', 'coord', SIZE, 0],
      ['t', 'k', 'networked', 'coord', SIZE, 0],
    ]);
    const streams = edgeCtxs.filter((e) => e.kind === 'stream');
    assert.equal(streams.map((e) => [e.from, e.to, e.node, e.bytes]).sort(), [['b', 'coord', 'coord', SIZE], ['coord', 'b', 'b', SIZE]],
      'each node saw the stream it received, under the trace id its OPEN frame carried');
    for (const s of streams) assert.equal(phases(edges, s), ['start', 'end', 'asyncStart', 'asyncEnd']);
  } finally {
    await coord.close();
    await b.close();
  }
});

test.run();
