// Aborts and deadlines of calls in a lane: a call still POSTED is cancelled
// in its slot (no worker is ended); a running one ends its worker, as a
// running pool task does; a deadline does the same with E_TIMEOUT, with no
// timer per call (the lanes' one sweeper). After each, the engine serves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Piscina } from 'piscina';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, within } from './helpers/settle.js';
import { STATE_CLAIMED, STATE_POSTED, callOf, lanesReady, until } from './helpers/lanes.js';

let engine: Engine;
let destroyed = 0;
const LOOP = (): Uint8Array => Uint8Array.of(1);

async function serves(what: string): Promise<void> {
  await lanesReady(engine, 1);
  assert.equal(await within(engine.invoke('identity', Uint8Array.of(8, 8)), 10_000, `identity after ${what}`), Uint8Array.of(8, 8));
  assert.is(engine.stats().lanes.inFlight, 0, `nothing left in lanes after ${what}`);
}

test.before(async () => {
  engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  (engine as unknown as { pool: Piscina }).pool.on('workerDestroy', () => destroyed++);
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
  await lanesReady(engine, 1);
});
test.after(async () => {
  await closeEngine(engine);
});

test('abort of a running lane call: E_ABORTED with the reason as cause, its worker ended', async () => {
  const ac = new AbortController();
  const input = LOOP();
  const p = engine.invoke('spin', input, { signal: ac.signal });
  const c = callOf(engine, input)!;
  await until(() => c.lane.stateOf(c.call) === STATE_CLAIMED, 'the call runs');
  const before = destroyed;
  ac.abort(new Error('client left'));
  const err = await rejectsWith(within(p, 10_000, 'abort'), 'E_ABORTED', /client left/);
  assert.is((err.cause as Error).message, 'client left');
  await until(() => destroyed === before + 1, 'the worker is ended');
  await serves('a running abort');
});

test('deadline of a queued lane call: E_TIMEOUT, cancelled in its slot; of the running one: E_TIMEOUT, worker ended', async () => {
  const holdIn = LOOP();
  const hold = engine.invoke('spin', holdIn, { timeoutMs: 1500 });
  const c = callOf(engine, holdIn)!;
  await until(() => c.lane.stateOf(c.call) === STATE_CLAIMED, 'the looping call runs');
  const qIn = Uint8Array.of(2, 2);
  const queued = engine.invoke('identity', qIn, { timeoutMs: 50 });
  const q = callOf(engine, qIn)!;
  assert.is(q.lane.stateOf(q.call), STATE_POSTED);
  const before = destroyed;
  await rejectsWith(within(queued, 10_000, 'queued deadline'), 'E_TIMEOUT', /deadline of 50 ms/);
  assert.is(destroyed, before, 'the queued call\'s deadline ends no worker');
  await rejectsWith(within(hold, 10_000, 'running deadline'), 'E_TIMEOUT', /deadline of 1500 ms/);
  await until(() => destroyed === before + 1, 'the running call\'s worker is ended');
  await serves('deadlines');
});

test('an AbortSignal.timeout on a lane call is E_TIMEOUT; an aborted signal is refused before the lane', async () => {
  await rejectsWith(within(engine.invoke('spin', LOOP(), { signal: AbortSignal.timeout(100) }), 10_000, 'signal timeout'), 'E_TIMEOUT');
  const calls = engine.stats().lanes.calls;
  const ac = new AbortController();
  ac.abort(new Error('already'));
  await rejectsWith(engine.invoke('identity', Uint8Array.of(1), { signal: ac.signal }), 'E_ABORTED', /already/);
  assert.is(engine.stats().lanes.calls, calls, 'an aborted call never entered a lane');
  await serves('signal timeouts');
});

test.run();
