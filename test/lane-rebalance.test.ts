// A call a lane holds unstarted behind a long call moves to another
// worker's lane when that lane goes idle: it does not wait for the busy
// worker while another is free. Two workers: one loops, the other runs a
// short call; a third call, posted while both are busy, lands behind one of
// them and must complete while the looping call still runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, within } from './helpers/settle.js';
import { STATE_CLAIMED, callOf, lanesReady, until } from './helpers/lanes.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2, timeoutMs: 60_000 });
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'spin2', module: 'spin' }]);
  await lanesReady(engine, 2);
  await Promise.all([engine.invoke('spin', Uint8Array.of(0)), engine.invoke('spin2', Uint8Array.of(0))]);
});
test.after(async () => {
  await closeEngine(engine);
});

test('queued behind a looping call, a call moves to the worker that went idle and completes', async () => {
  const loopAc = new AbortController();
  const loopIn = Uint8Array.of(1);
  const loop = engine.invoke('spin', loopIn, { signal: loopAc.signal });
  const l = callOf(engine, loopIn)!;
  await until(() => l.lane.stateOf(l.call) === STATE_CLAIMED, 'the looping call runs');
  // The other worker loops too, until aborted; calls posted now queue behind one of the two.
  const shortAc = new AbortController();
  const shortIn = Uint8Array.of(1);
  const short = engine.invoke('spin2', shortIn, { signal: shortAc.signal });
  const s = callOf(engine, shortIn)!;
  assert.ok(s.lane !== l.lane, 'one looping call per worker');
  await until(() => s.lane.stateOf(s.call) === STATE_CLAIMED, 'the second looping call runs');
  const queued = [Uint8Array.of(0, 1), Uint8Array.of(0, 2), Uint8Array.of(0, 3), Uint8Array.of(0, 4)];
  const calls = queued.map((d) => engine.invoke('spin2', d));
  assert.ok(queued.some((d) => callOf(engine, d)?.lane === l.lane), 'some wait behind the first looping call');
  const moved = engine.stats().lanes.moved;
  // Ending the second looping call ends its worker; the replacement's lane is idle.
  shortAc.abort(new Error('done'));
  await rejectsWith(short, 'E_ABORTED', /done/);
  for (const [i, p] of calls.entries()) assert.equal(await within(p, 10_000, `queued call ${i}`), queued[i], `queued call ${i}`);
  assert.ok(engine.stats().lanes.moved > moved, 'calls moved from the busy lane');
  assert.ok(l.lane.stateOf(l.call) === STATE_CLAIMED, 'the first looping call still runs');
  loopAc.abort(new Error('end'));
  await rejectsWith(loop, 'E_ABORTED', /end/);
});

test.run();
