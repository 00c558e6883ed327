// Aborting an invocation whose step runs on another node: the caller gets
// E_ABORTED at once, the sealed cancel reaches the node, which stops the
// looping guest (its only worker is free again for the next call at once,
// not at the 20 s deadline), and the run request's inbox and timer go with
// the abort (the process exits without waiting for them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, type Engine } from '../engine/index.js';
import { newCluster, node } from './helpers/cluster-attack.js';
import { within } from './helpers/settle.js';

const { cluster, secret } = newCluster('abort');
let b: Engine;
let coord: Engine;

test.before(async () => {
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
  await coord.deploy({ name: 's', module: 'spin', host: 'b' });
});

test.after(async () => {
  await coord?.close();
  await b?.close();
});

async function abortedLoop(abortWhen: () => Promise<void>): Promise<number> {
  const ac = new AbortController();
  const t0 = Date.now();
  const looping = coord.invoke('s', Uint8Array.of(1), { signal: ac.signal });
  await abortWhen();
  ac.abort(new Error('no longer needed'));
  let err: unknown;
  try {
    await within(looping, 5000, 'the aborted call');
  } catch (e) {
    err = e;
  }
  assert.instance(err, CwasiError);
  assert.is((err as CwasiError).code, 'E_ABORTED', (err as Error).message);
  assert.match(String(((err as Error).cause as Error | undefined)?.message), /no longer needed/);
  // b's only worker serves the next call at once: the loop was stopped (or never started).
  assert.equal([...await within(coord.invoke('s', Uint8Array.of(9)), 5000, 'the next call on b')], [9]);
  return Date.now() - t0;
}

test('an abort while the step loops on the node: the sealed cancel stops it; b serves the next call at once', async () => {
  assert.equal([...await coord.invoke('s', Uint8Array.of(7))], [7]); // deployed and instantiated on b
  const ms = await abortedLoop(async () => {
    const until = Date.now() + 5000;
    while (b.stats().invocations.inFlight === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.is(b.stats().invocations.inFlight, 1, 'b runs the looping step');
  });
  console.log(`# aborted while running on b: the next call answered ${ms} ms after the first began`);
});

test('an abort before the run request went out: nothing is sent, b never runs the loop', async () => {
  const ms = await abortedLoop(async () => {});
  console.log(`# aborted before sending: the next call answered ${ms} ms after the first began`);
  assert.is(b.stats().invocations.inFlight, 0);
});

test.run();
