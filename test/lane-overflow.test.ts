// A full lane sends the next call to the pool (Piscina), and every call,
// laned or not, completes with its own output. One worker holds a looping
// call; 63 more fill the other slots of its lane; the 65th overflows. Ending
// the looping call ends the worker: the 63 it never started are posted again
// and the overflowed task runs on the replacement.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { LANE_SLOTS } from '../engine/lane/layout.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, settleAll } from './helpers/settle.js';
import { STATE_CLAIMED, STATE_POSTED, callOf, lanesReady, until } from './helpers/lanes.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
  await lanesReady(engine, 1);
});
test.after(async () => {
  await closeEngine(engine);
});

test('the 65th call with the lane full goes to the pool; all complete with their outputs', async () => {
  const holdAc = new AbortController();
  const holdIn = Uint8Array.of(1);
  const hold = engine.invoke('spin', holdIn, { signal: holdAc.signal });
  const held = callOf(engine, holdIn);
  assert.ok(held);
  await until(() => held.lane.stateOf(held.call) === STATE_CLAIMED, 'the worker claims the looping call');

  const before = engine.stats().lanes;
  const inputs = Array.from({ length: LANE_SLOTS }, (_, i) => workloads.produce(16 + i * 97, i));
  const calls = inputs.map((d) => engine.invoke('identity', d));
  const after = engine.stats().lanes;
  assert.is(after.calls - before.calls, LANE_SLOTS - 1, 'the lane took as many calls as it had free slots');
  assert.is(after.overflow - before.overflow, 1, 'one call overflowed');
  assert.is(after.inFlight, LANE_SLOTS, 'the lane is full');
  assert.is(callOf(engine, inputs[LANE_SLOTS - 1]!), undefined, 'the last call is not in a lane');
  for (const d of inputs.slice(0, LANE_SLOTS - 1)) assert.is(held.lane.stateOf(callOf(engine, d)!.call), STATE_POSTED);

  holdAc.abort(new Error('release'));
  await rejectsWith(hold, 'E_ABORTED', /release/);
  const results = await settleAll(calls, 20_000, 'the laned and the overflowed calls');
  results.forEach((r, i) => {
    assert.is(r.status, 'fulfilled', `call ${i}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
    if (r.status === 'fulfilled') assert.equal(r.value, inputs[i], `call ${i}'s output`);
  });
  const end = engine.stats();
  assert.ok(end.lanes.reposted - before.reposted >= LANE_SLOTS - 1, `the unstarted calls were posted again (${end.lanes.reposted})`);
  assert.is(end.lanes.inFlight, 0);
  assert.is(end.invocations.inFlight, 0);
});

test.run();
