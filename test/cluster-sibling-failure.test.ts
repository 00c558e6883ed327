// One remote step fails; its consumer on a third node was started early and
// waits for a stream that will never come. The invocation must end with the
// first failure as soon as it is known, cancelling the waiting step, instead
// of holding it (and the caller) until the deadline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { NATS_URL } from './helpers/env.js';
import { within } from './helpers/settle.js';

let harness: Harness;
let engine: Engine;
/** Far beyond the bound below: an invocation that waits for it is the bug. */
const DEADLINE_MS = 120_000;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'b', host: '127.0.0.2' }, { name: 'c', host: '127.0.0.3' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: DEADLINE_MS,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
  });
  await engine.deploy({
    name: 'b-fails',
    functions: { t: { module: 'trap', host: 'b' }, k: { module: 'checksum', host: 'c' } },
    edges: [{ from: 't', to: 'k' }],
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
});

test('a step that traps on one node ends the invocation at once, with its consumer on another node waiting', async () => {
  assert.equal(engine.plan('b-fails').edges.map((e) => e.mode), ['networked']);
  for (let round = 0; round < 3; round++) {
    let err: unknown;
    try {
      await within(engine.invoke('b-fails', new Uint8Array([1, 2, 3])), 20_000, `round ${round}`);
    } catch (e) {
      err = e;
    }
    assert.instance(err, CwasiError, `round ${round}: ${String(err)}`);
    assert.is((err as CwasiError).code, 'E_FUNCTION_TRAP', `round ${round}: ${(err as CwasiError).message}`);
  }
  // The nodes are healthy afterwards: the same workflow with a good input completes.
  const good = workloads.produce(64 * 1024, 5);
  good[0] = 0;
  const out = await within(engine.invoke('b-fails', good), 20_000, 'good input');
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(good), length: good.length }]);
});

test.run();
