// A call lane's slot moves through its states (engine/lane/layout.ts):
// FREE → POSTED (main thread) → CLAIMED (worker) → DONE (worker) → FREE
// (main thread takes the response), and POSTED → CANCELLED (an abort before
// the worker claimed it) → handed back unrun, without a worker being ended.
// One worker; a looping call holds it so that the calls behind it stay
// POSTED; every state is read from the lane's shared memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { slotWord, S } from '../engine/lane/layout.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, within } from './helpers/settle.js';
import {
  STATE_CANCELLED, STATE_CLAIMED, STATE_DONE, STATE_FREE, STATE_POSTED, callOf, laneSet, lanesOf, lanesReady, until,
} from './helpers/lanes.js';

let engine: Engine;
let destroyed = 0;

test.before(async () => {
  engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
  (engine as unknown as { pool: import('piscina').Piscina }).pool.on('workerDestroy', () => destroyed++);
  await lanesReady(engine, 1);
});
test.after(async () => {
  await closeEngine(engine);
});

test('POSTED behind a busy worker, CANCELLED by an abort without ending the worker, then handed back', async () => {
  const holdAc = new AbortController();
  const holdIn = Uint8Array.of(1); // spin loops forever on input byte 1
  const hold = engine.invoke('spin', holdIn, { signal: holdAc.signal });
  const held = callOf(engine, holdIn);
  assert.ok(held, 'the looping call is in a lane');
  await until(() => held.lane.stateOf(held.call) === STATE_CLAIMED, 'the worker claims the looping call');

  const bIn = Uint8Array.of(9, 9);
  const bAc = new AbortController();
  const b = engine.invoke('identity', bIn, { signal: bAc.signal });
  const queued = callOf(engine, bIn);
  assert.ok(queued, 'the second call is in a lane');
  assert.is(queued.lane, held.lane, 'one worker, one lane');
  assert.is(queued.lane.stateOf(queued.call), STATE_POSTED, 'the worker is busy: the call waits POSTED');

  bAc.abort(new Error('not needed'));
  await rejectsWith(b, 'E_ABORTED', /not needed/);
  assert.is(queued.lane.stateOf(queued.call), STATE_CANCELLED, 'cancelled in its slot');
  assert.is(destroyed, 0, 'no worker ended for a call that never started');
  const slot = queued.call.slot;
  assert.ok(queued.lane.pending().includes(queued.call), 'the slot stays taken until the worker hands it back');

  // Ending the looping call ends its worker; the cancelled slot goes with the lane.
  holdAc.abort(new Error('release'));
  await rejectsWith(hold, 'E_ABORTED', /release/);
  await until(() => !held.lane.alive, 'the lane of the ended worker closes');
  assert.is(destroyed, 1, 'only the looping call\'s worker was ended');
  assert.ok(slot >= 0);
});

test('CLAIMED → DONE → FREE: the response waits DONE until the main thread takes it', async () => {
  await lanesReady(engine, 1);
  const lane = lanesOf(engine)[0]!;
  // Warm the lane's target and instance first.
  assert.equal(await within(engine.invoke('identity', Uint8Array.of(1)), 10_000, 'warm-up'), Uint8Array.of(1));
  const input = Uint8Array.of(4, 5, 6);
  const call = engine.invoke('identity', input);
  const found = callOf(engine, input);
  assert.ok(found, 'the call is in a lane');
  assert.is(found.lane, lane);
  const seen = new Set<number>([lane.stateOf(found.call)]);
  // This thread does not take responses while it loops: the slot must reach DONE and stay there.
  const end = performance.now() + 10_000;
  let state = STATE_POSTED;
  while (performance.now() < end) {
    state = lane.stateOf(found.call);
    seen.add(state);
    if (state === STATE_DONE) break;
  }
  assert.is(state, STATE_DONE, `states seen: ${[...seen].join(', ')}`);
  assert.ok([...seen].every((s) => s === STATE_POSTED || s === STATE_CLAIMED || s === STATE_DONE), `states seen: ${[...seen].join(', ')}`);
  assert.equal(await call, input);
  const words = (lane as unknown as { v: { i32: Int32Array } }).v.i32;
  assert.is(Atomics.load(words, slotWord(found.call.slot, S.STATE)), STATE_FREE, 'the slot is FREE once its response was taken');
  assert.is(laneSet(engine).inFlight, 0);
  assert.ok(engine.stats().lanes.calls >= 2);
});

test.run();
