// Which lane a call takes when the lanes have every core (engine/lane/lanes.ts):
// the one whose queued runs (each target's measured run time) plus a wake-up
// for a sleeping worker end first. Short calls stay with the awake worker
// until WAKE_COST_MS of work waits there; long ones go to the sleeping worker
// at once; with cores to spare, the least-busy lane as before. Two lanes on
// shared memory of their own, no worker: the test plays the workers' part by
// setting WORKER_SLEEPING, and reads where each call went from REQ_HEAD.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageChannel } from 'node:worker_threads';
import { CwasiError } from '../engine/errors.js';
import { LaneSet, WAKE_COST_MS, type LaneTarget } from '../engine/lane/lanes.js';
import { H, LANE_BYTES } from '../engine/lane/layout.js';

interface Rig {
  set: LaneSet;
  heads(): number[];
  pending: Array<Promise<unknown>>;
  close(): Promise<void>;
}

/** A lane set of two lanes (threads 1 and 2) sharing `cores` cores; lane 2's worker sleeps, lane 1's is awake. */
function rig(cores: number): Rig {
  const set = new LaneSet(new SharedArrayBuffer(8), {
    fallback: () => Promise.reject(new CwasiError('E_INTERNAL', 'no pool here')),
    terminate: () => false,
    discard: () => {},
    settled: () => {},
    poolCanGrow: () => false,
    threads: () => 2,
    runsPoolTask: () => false,
  }, cores);
  const buffers = [new SharedArrayBuffer(LANE_BYTES), new SharedArrayBuffer(LANE_BYTES)];
  const channels = [new MessageChannel(), new MessageChannel()];
  buffers.forEach((sab, i) => set.add(i + 1, sab, channels[i]!.port1));
  Atomics.store(new Int32Array(buffers[1]!), H.WORKER_SLEEPING, 1);
  const pending: Array<Promise<unknown>> = [];
  return {
    set,
    pending,
    heads: () => buffers.map((sab) => Atomics.load(new Int32Array(sab), H.REQ_HEAD)),
    async close() {
      set.abortAll(new CwasiError('E_CLOSED', 'test over'));
      await Promise.allSettled(pending);
      set.close();
      for (const c of channels) {
        c.port1.close();
        c.port2.close();
      }
    },
  };
}

function target(name: string, runMs: number | undefined): LaneTarget {
  const group = { id: `g-${name}`, generation: 0, key: () => `g-${name}:0` } as unknown as LaneTarget['group'];
  return {
    name, graph: {} as LaneTarget['graph'], fn: name, group, generation: 0, key: `${name}@g-${name}:0`, maxPayloadBytes: 1 << 20,
    ...(runMs !== undefined ? { runMs } : {}),
  };
}

function post(r: Rig, t: LaneTarget): void {
  const p = r.set.call(t, Uint8Array.of(1), { deadline: Date.now() + 60_000, timeoutMs: 60_000 });
  assert.ok(p, `${t.name}: taken by a lane`);
  r.pending.push(p!.catch(() => {}));
}

test('short calls stay with the awake worker until a wake-up of work waits there', async () => {
  const r = rig(2);
  const runMs = 0.1;
  const fit = Math.round(WAKE_COST_MS / runMs);
  for (let i = 0; i < fit; i++) post(r, target('short', runMs));
  assert.equal(r.heads(), [fit, 0], 'every call on the awake lane');
  post(r, target('short', runMs));
  assert.equal(r.heads(), [fit, 1], 'the next goes to the sleeping worker: as much work waits on the awake one as a wake-up costs');
  await r.close();
});

test('a long call goes to the sleeping worker rather than queue behind a running one', async () => {
  const r = rig(2);
  post(r, target('long', 5));
  assert.equal(r.heads(), [1, 0]);
  post(r, target('long', 5));
  assert.equal(r.heads(), [1, 1]);
  await r.close();
});

test('a target never measured counts as a millisecond: it spreads', async () => {
  const r = rig(2);
  post(r, target('new', undefined));
  post(r, target('new', undefined));
  assert.equal(r.heads(), [1, 1]);
  await r.close();
});

test('with a core to spare for the main thread, the least-busy lane as before', async () => {
  const r = rig(8);
  post(r, target('short', 0.01));
  post(r, target('short', 0.01));
  post(r, target('short', 0.01));
  assert.equal(r.heads(), [2, 1]);
  await r.close();
});

test.run();
