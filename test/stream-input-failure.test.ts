// Streamed inputs handed to their step before they landed (engine/cluster/
// stream-input.ts): the gate follows the stream; a stream that fails after
// the handoff reports its own error and ends a run still waiting on other
// inputs at once; the arena is freed only once no socket read can target it
// (after the receive itself settled, even when the claim failed first); a
// run that ends first aborts the stream; no more steps than allowed wait on
// gates at once. The receiving side's promises are settled by hand here;
// cluster-stream-input-early runs the real thing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError } from '../engine/errors.js';
import { Heap } from '../engine/memory/heap.js';
import { GATE_FAILED, GATE_LANDED, GATE_LANDING } from '../engine/channels/landing-gate.js';
import type { ExpectHooks } from '../engine/channels/networked.js';
import type { GroupRef } from '../engine/channels/channel.js';
import { StreamInputs, failedLanding, releaseInput, untilLandingFails } from '../engine/cluster/stream-input.js';

/** One expected stream whose claim, receive and reads are settled by the test. */
class Stream {
  dest?: (n: number) => Uint8Array;
  hooks?: ExpectHooks;
  view?: Uint8Array;
  aborted: string | undefined;
  private claim?: { resolve: (v: Uint8Array) => void; reject: (e: unknown) => void };
  private reads?: { resolve: () => void };
  readonly peer = {
    expect: (_t: string, _f: string, dest: (n: number) => Uint8Array, _d: number, hooks?: ExpectHooks) => {
      this.dest = dest;
      this.hooks = hooks;
      return new Promise<Uint8Array>((resolve, reject) => { this.claim = { resolve, reject }; });
    },
  };

  /** The stream arrived and is received into its destination. */
  open(total: number): void {
    this.view = this.dest!(total);
    this.hooks!.receiving!(new Promise<void>((resolve) => { this.reads = { resolve }; }), (reason) => { this.aborted = reason; });
  }

  nearlyLanded(): void {
    this.hooks!.early!.then();
  }

  land(): void {
    this.reads!.resolve();
    this.claim!.resolve(this.view!);
  }

  /** The claim fails (a sender lost, say) while a read may still target the destination. */
  failClaim(err: CwasiError): void {
    this.claim!.reject(err);
  }

  readsReturned(): void {
    this.reads!.resolve();
  }
}

function memory(): { heap: Heap; group: GroupRef } {
  const m = new WebAssembly.Memory({ initial: 2, maximum: 64, shared: true });
  const heap = Heap.init(m, 65536, 64 * 65536);
  return { heap, group: { id: 'g', generation: heap.generation, host: 'here', memory: m, heap } };
}

const turn = () => new Promise((r) => setImmediate(r));

test('handed early behind a gate; the landing opens it', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(1);
  const s = new Stream();
  const r = inputs.receive(s.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  s.open(1000);
  s.nearlyLanded();
  const spec = await r.spec as { kind: string; len: number; gate?: SharedArrayBuffer };
  assert.equal([spec.kind, spec.len, inputs.handedEarly], ['shared', 1000, 1]);
  const gate = new Int32Array(spec.gate!);
  assert.is(Atomics.load(gate, 0), GATE_LANDING);
  s.land();
  await r.input.landing!.settled;
  assert.is(Atomics.load(gate, 0), GATE_LANDED);
  assert.equal([r.input.landing!.done, r.input.landing!.failure], [true, undefined]);
});

test('a failure after the handoff: gate FAILED, its error reported, a run waiting on another input ends at once', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(2);
  const a = new Stream();
  const b = new Stream();
  const ra = inputs.receive(a.peer, { transfer: 'a', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  const rb = inputs.receive(b.peer, { transfer: 'b', from: 'm' }, group, heap, heap.newArena(), Date.now() + 10_000);
  a.open(64);
  a.nearlyLanded();
  const spec = await ra.spec as { gate?: SharedArrayBuffer };
  const all = untilLandingFails(Promise.all([ra.spec, rb.spec]), [ra.input, rb.input]);
  const lost = new CwasiError('E_NET', 'node n was lost');
  a.failClaim(lost);
  a.readsReturned();
  try {
    await all;
    assert.unreachable('the run went on waiting for b');
  } catch (err) {
    assert.is(err, lost);
  }
  assert.is(Atomics.load(new Int32Array(spec.gate!), 0), GATE_FAILED);
  assert.is(failedLanding([rb.input, ra.input]), lost);
});

test('the arena is freed only after the last read returned, even when the claim failed first', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(1);
  const s = new Stream();
  const before = heap.stats().bytesInUse;
  const r = inputs.receive(s.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  s.open(256 * 1024);
  s.nearlyLanded();
  await r.spec;
  const held = heap.stats().bytesInUse;
  assert.ok(held > before);
  s.failClaim(new CwasiError('E_NET', 'sender lost'));
  releaseInput(r.input);
  await turn();
  assert.is(heap.stats().bytesInUse, held, 'freed while a read could still land in it');
  s.readsReturned();
  await r.input.landing!.settled;
  await turn();
  assert.is(heap.stats().bytesInUse, before);
});

test('a run that ends before its stream landed aborts the stream', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(1);
  const s = new Stream();
  const r = inputs.receive(s.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  s.open(100);
  s.nearlyLanded();
  await r.spec;
  releaseInput(r.input);
  assert.type(s.aborted, 'string');
});

test('no more steps than allowed wait on gates: the next gets its input once landed', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(1);
  const first = new Stream();
  const second = new Stream();
  const r1 = inputs.receive(first.peer, { transfer: '1', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  const r2 = inputs.receive(second.peer, { transfer: '2', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  first.open(10);
  second.open(10);
  first.nearlyLanded();
  second.nearlyLanded();
  const s1 = await r1.spec as { gate?: SharedArrayBuffer };
  assert.ok(s1.gate !== undefined);
  let got2: { gate?: SharedArrayBuffer } | undefined;
  void r2.spec.then((s) => { got2 = s as { gate?: SharedArrayBuffer }; });
  await turn();
  assert.is(got2, undefined, 'handed early beyond the bound');
  second.land();
  await r2.input.landing!.settled;
  await turn();
  assert.equal([got2 !== undefined, got2?.gate, inputs.handedEarly], [true, undefined, 1]);
  first.land();
});

test('a stream that fails before the handoff rejects the input with its error', async () => {
  const { heap, group } = memory();
  const inputs = new StreamInputs(1);
  const s = new Stream();
  const r = inputs.receive(s.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000);
  const refused = new CwasiError('E_AUTH', 'stream from an impostor');
  s.failClaim(refused);
  try {
    await r.spec;
    assert.unreachable('resolved');
  } catch (err) {
    assert.is(err, refused);
  }
});

test.run();
