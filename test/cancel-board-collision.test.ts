// Two queued tasks cancelled while both wait, with task ids 4096 apart: each
// must find its own cancel mark when a worker takes it, and return E_ABORTED
// without running. (The board once indexed marks by id mod 4096, so the second
// mark overwrote the first: the first task then started for real, and only a
// worker kill, when it asked for its memory, stopped it; a worker that already
// had the memory would have run it to the end.)
//
// One worker. A never-ending task holds it while A and B are queued and
// aborted; then that task is aborted (its worker killed, the one kill this
// test expects), and the replacement worker takes A, then B, then C. Every
// step waits on an event (running, queue length, settlement), not a timer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Piscina } from 'piscina';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';

let engine: Engine;
let pool: Piscina;

interface Internals {
  pool: Piscina;
  dispatcher: { poolRunner: { nextTaskId: number } };
}

async function untilQueued(n: number): Promise<void> {
  for (let i = 0; pool.queueSize < n; i++) {
    if (i > 1_000_000) throw new Error(`the queue never reached ${n}`);
    await new Promise((r) => setImmediate(r));
  }
}

test.before(async () => {
  // Pool tasks only: the cancel board is theirs (lane calls cancel in their slot, lane-states test).
  engine = await Engine.create({ threads: 1, timeoutMs: 60_000, callLane: false });
  pool = (engine as unknown as Internals).pool;
  await engine.deploy([{ name: 'hold', module: 'spin' }, { name: 'sp', module: 'spin' }]);
});
test.after(async () => {
  await engine.close();
});

test('queued tasks 4096 ids apart, both cancelled: neither runs, and no worker is killed for them', async () => {
  const runner = (engine as unknown as Internals).dispatcher.poolRunner;
  const holdAc = new AbortController();
  const hold = engine.invoke('hold', new Uint8Array([1]), { signal: holdAc.signal });
  await whenRunning(engine, 'hold');

  runner.nextTaskId = 1000;
  const aAc = new AbortController();
  const a = engine.invoke('sp', new Uint8Array([1]), { signal: aAc.signal });
  await untilQueued(1);
  aAc.abort(new Error('a cancelled'));
  await rejectsWith(a, 'E_ABORTED', /a cancelled/);

  runner.nextTaskId = 1000 + 4096;
  const bAc = new AbortController();
  const b = engine.invoke('sp', new Uint8Array([1]), { signal: bAc.signal });
  await untilQueued(2);
  bAc.abort(new Error('b cancelled'));
  await rejectsWith(b, 'E_ABORTED', /b cancelled/);

  const c = engine.invoke('sp', new Uint8Array([7, 8]));
  await untilQueued(3);
  let destroyed = 0;
  pool.on('workerDestroy', () => destroyed++);
  holdAc.abort(new Error('release'));
  await rejectsWith(hold, 'E_ABORTED', /release/);
  // C runs only after A and B left the worker, however they left it.
  assert.equal(await c, new Uint8Array([7, 8]));
  assert.is(destroyed, 1, 'only the holding task\'s worker was killed');
});

test.run();
