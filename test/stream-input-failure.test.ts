// A streamed input handed to its step before it landed (engine/cluster/
// stream-input.ts): when the stream then fails, the step's gate says so, the
// stream's own error is what the run reports (failedLanding), and the arena
// is freed only after the stream settled (a socket read may target it until
// then). The stream here is the receiving side's promise, settled by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError } from '../engine/errors.js';
import { Heap } from '../engine/memory/heap.js';
import { GATE_FAILED, GATE_LANDED, GATE_LANDING } from '../engine/channels/landing-gate.js';
import { EARLY_START_BYTES, failedLanding, receiveStreamInput } from '../engine/cluster/stream-input.js';
import type { GroupRef } from '../engine/channels/channel.js';

interface Controlled {
  peer: { expect: (t: string, f: string, dest: (n: number) => Uint8Array, d: number, early?: { bytes: number; then: () => void }) => Promise<Uint8Array> };
  open(total: number): Uint8Array;
  early(): void;
  land(): void;
  fail(err: CwasiError): void;
}

function controlled(): Controlled {
  let dest: ((n: number) => Uint8Array) | undefined;
  let early: { bytes: number; then: () => void } | undefined;
  let settle: { resolve: (v: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
  let view: Uint8Array | undefined;
  return {
    peer: {
      expect: (_t, _f, d, _dl, e) => {
        dest = d;
        early = e;
        return new Promise((resolve, reject) => { settle = { resolve, reject }; });
      },
    },
    open: (total) => (view = dest!(total)),
    early: () => early!.then(),
    land: () => settle!.resolve(view!),
    fail: (err) => settle!.reject(err),
  };
}

function setup(): { heap: Heap; group: GroupRef } {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64, shared: true });
  const heap = Heap.init(memory, 65536, 64 * 65536);
  return { heap, group: { id: 'g', generation: heap.generation, host: 'here', memory, heap } };
}

test('the step gets its input early, gated; the stream landing opens the gate', async () => {
  const { heap, group } = setup();
  const c = controlled();
  let early = 0;
  const r = receiveStreamInput(c.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000, () => early++);
  c.open(1000);
  c.early();
  const spec = await r.spec as { kind: string; ptr: number; len: number; gate?: SharedArrayBuffer };
  assert.equal([spec.kind, spec.len, early], ['shared', 1000, 1]);
  const gate = new Int32Array(spec.gate!);
  assert.is(Atomics.load(gate, 0), GATE_LANDING);
  c.land();
  await r.landing.settled;
  assert.is(Atomics.load(gate, 0), GATE_LANDED);
  assert.is(r.landing.failure, undefined);
});

test('a stream that fails after the handoff: gate FAILED, its error reported, the arena freed after it settled', async () => {
  const { heap, group } = setup();
  const c = controlled();
  const arena = heap.newArena();
  const r = receiveStreamInput(c.peer, { transfer: 't', from: 'n' }, group, heap, arena, Date.now() + 10_000, () => {});
  c.open(EARLY_START_BYTES >> 4);
  c.early();
  const spec = await r.spec as { gate?: SharedArrayBuffer };
  const lost = new CwasiError('E_NET', 'node n was lost');
  let freed = false;
  const runs = [{ heap, arena, landing: r.landing }];
  // As the member does when its run ends: free once the stream settled.
  void r.landing.settled.then(() => { heap.release(arena); freed = true; });
  assert.is(freed, false);
  c.fail(lost);
  await r.landing.settled;
  await Promise.resolve();
  assert.is(Atomics.load(new Int32Array(spec.gate!), 0), GATE_FAILED);
  assert.is(failedLanding(runs), lost);
  assert.ok(freed);
});

test('a stream that fails before the handoff rejects the input with its error', async () => {
  const { heap, group } = setup();
  const c = controlled();
  const r = receiveStreamInput(c.peer, { transfer: 't', from: 'n' }, group, heap, heap.newArena(), Date.now() + 10_000, () => {});
  const refused = new CwasiError('E_AUTH', 'stream from an impostor');
  c.fail(refused);
  try {
    await r.spec;
    assert.unreachable('resolved');
  } catch (err) {
    assert.is(err, refused);
  }
});

test.run();
