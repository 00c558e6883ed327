// A consumer that fails on its own (a stream write from outside its memory)
// while its live producer is still streaming: the invocation fails with the
// consumer's error, not with what its producer meets after it (the stream
// stopped, its ring aborted when the invocation failed), on a local and an
// embedded edge, three times each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { closeEngine } from './helpers/settle.js';

/** A seed whose produced stream starts with byte 6: stream-probe's "write from a pointer beyond the memory". */
const SEED_MODE_6 = 102;
/** Far more than the producer's window: it is still writing when its consumer fails. */
const SIZE = 64 * 1024 * 1024;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 3 });
  for (const trusted of [false, true]) {
    const name = trusted ? 'fails-t' : 'fails';
    const t = trusted ? { trusted: true, domain: name } : {};
    await engine.deploy({ name, functions: { [`${name}-p`]: { module: 'stream-producer', ...t }, [`${name}-c`]: { module: 'stream-probe', ...t } }, edges: [{ from: `${name}-p`, to: `${name}-c` }] });
  }
});
test.after(async () => {
  await closeEngine(engine);
});

test('the produced stream starts with the byte that makes the consumer fail', () => {
  assert.is(workloads.produce(16, SEED_MODE_6)[0], 6);
});

for (const name of ['fails', 'fails-t']) {
  test(`${name}: the consumer's own failure is the invocation's, not its producer's E_CHANNEL`, async () => {
    for (let i = 0; i < 3; i++) {
      const err = await engine.invoke(name, workloads.producerSpec(SIZE, SEED_MODE_6)).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      assert.ok(err !== undefined, 'the invocation failed');
      assert.is.not(err.code, 'E_CHANNEL', `${err.code}: ${err.message}`);
      assert.match(String(err.message), new RegExp(`${name}-c`), `${err.code}: ${err.message}`);
    }
    assert.is(engine.stats().invocations.inFlight, 0);
  });
}

test.run();
