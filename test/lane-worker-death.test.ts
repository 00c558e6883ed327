// A worker that dies with calls in its lane loses none of them: the call it
// was running fails with E_WORKER_DIED, the calls it had not started are
// posted again (another lane, or the pool) and complete with their outputs,
// and what the running call held in its memory is given back (the worker's
// journal names the lane call by its id, negated).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Piscina } from 'piscina';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, settleAll, within } from './helpers/settle.js';
import { STATE_CLAIMED, STATE_POSTED, callOf, lanesReady, until } from './helpers/lanes.js';

let engine: Engine;
let pool: Piscina;
const arenas = (fn: string): number => engine.stats().memory.find((m) => m.members.includes(fn))!.liveArenas;

test.before(async () => {
  engine = await Engine.create({ threads: 2, timeoutMs: 60_000 });
  pool = (engine as unknown as { pool: Piscina }).pool;
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
  await lanesReady(engine, 2);
  // Both workers have instances of both functions.
  await Promise.all([0, 1, 2, 3].map((i) => engine.invoke(i % 2 ? 'spin' : 'identity', Uint8Array.of(7))));
});
test.after(async () => {
  await closeEngine(engine);
});

test('killed with one call running and others queued: E_WORKER_DIED for the running one, the rest complete', async () => {
  const spinArenas = arenas('spin');
  const holds = [Uint8Array.of(1), Uint8Array.of(1)];
  const acs = [new AbortController(), new AbortController()];
  const running = holds.map((d, i) => engine.invoke('spin', d, { signal: acs[i]!.signal }));
  const heldA = callOf(engine, holds[0]!)!;
  const heldB = callOf(engine, holds[1]!)!;
  assert.ok(heldA.lane !== heldB.lane, 'one looping call per worker');
  await until(() => heldA.lane.stateOf(heldA.call) === STATE_CLAIMED && heldB.lane.stateOf(heldB.call) === STATE_CLAIMED, 'both workers run their looping call');

  const inputs = Array.from({ length: 20 }, (_, i) => workloads.produce(100 + 501 * i, 40 + i));
  const calls = inputs.map((d) => engine.invoke('identity', d));
  const onA = inputs.filter((d) => callOf(engine, d)?.lane === heldA.lane);
  assert.ok(onA.length >= 5, `calls queued behind the worker that dies (${onA.length})`);
  for (const d of onA) assert.is(heldA.lane.stateOf(callOf(engine, d)!.call), STATE_POSTED);
  const reposted = engine.stats().lanes.reposted;

  const worker = pool.threads.find((w) => w.threadId === heldA.lane.threadId);
  assert.ok(worker, 'the worker of the first lane');
  void worker.terminate();
  await rejectsWith(within(running[0]!, 10_000, 'the running call'), 'E_WORKER_DIED', /exited/);
  assert.ok(engine.stats().lanes.reposted - reposted >= onA.length, 'every unstarted call of the dead lane was posted again');

  // Release the other worker (ended, as a running call is stopped) so that the queue drains.
  acs[1]!.abort(new Error('release'));
  await rejectsWith(running[1]!, 'E_ABORTED', /release/);
  const results = await settleAll(calls, 20_000, 'the queued calls');
  results.forEach((r, i) => {
    assert.is(r.status, 'fulfilled', `call ${i}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
    if (r.status === 'fulfilled') assert.equal(r.value, inputs[i], `call ${i}'s output`);
  });
  assert.is(engine.stats().lanes.inFlight, 0);
  assert.is(engine.stats().invocations.inFlight, 0);
  // What the two ended calls held in spin's memory is given back.
  await until(() => arenas('spin') <= spinArenas, `spin's arenas back to ${spinArenas} (now ${arenas('spin')})`);
  assert.equal(await within(engine.invoke('identity', Uint8Array.of(3)), 10_000, 'after'), Uint8Array.of(3));
});

test.run();
