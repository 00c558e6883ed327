// The control plane (comlink over each worker's control port): every worker
// reports what it holds, and drops the instances of a memory that was
// discarded as soon as it is told, between tasks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy([
    { name: 'identity', module: 'identity', trusted: true, domain: 'ctl' },
    { name: 'trap', module: 'trap', trusted: true, domain: 'ctl' },
  ]);
});
test.after(async () => {
  await engine.close();
});

test('every worker answers with what it holds', async () => {
  await Promise.all(Array.from({ length: 8 }, (_, i) => engine.invoke('identity', new Uint8Array([i]))));
  const stats = await engine.workerStats();
  assert.is(stats.length, engine.stats().pool.threads, 'one report per worker');
  const holders = stats.filter((w) => w.groups.some((g) => g.groupId === 'local/domain:ctl' && g.instances.includes('identity')));
  assert.ok(holders.length >= 1, 'a worker holds an identity instance');
  assert.ok(stats.every((w) => w.runningTask === undefined && w.heapUsedBytes > 0));
});

test('after a trap, workers drop the discarded generation at once', async () => {
  const gen = engine.stats().memory.find((m) => m.id === 'local/domain:ctl')!.generation;
  await rejectsWith(engine.invoke('trap', new Uint8Array([1])), 'E_FUNCTION_TRAP');
  // The drop is asked for without waiting; a second round of stats sees it done.
  let stale = -1;
  for (let i = 0; i < 50 && stale !== 0; i++) {
    const stats = await engine.workerStats();
    stale = stats.flatMap((w) => w.groups).filter((g) => g.groupId === 'local/domain:ctl' && g.generation === gen).length;
  }
  assert.is(stale, 0, 'no worker holds the old generation');
  assert.equal(await engine.invoke('identity', new Uint8Array([9])), new Uint8Array([9]));
});

test.run();
