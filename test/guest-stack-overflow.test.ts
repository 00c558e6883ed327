// A guest's shadow stack overflow traps with "stack overflow" before it
// writes a byte below its stack: in an embedding group the stack lies in the
// heap, right above other blocks (another function's output, for one), and a
// spill through them used to return wrong results as success.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED, prng } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;
const rnd = prng(SEED ^ 0x57ac);

/** Input of `deep`: recursion depth (u32 LE), then payload bytes. */
function deepInput(depth: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, depth, true);
  out.set(payload, 4);
  return out;
}

const expected = (d: Uint8Array) => [{ hash: workloads.checksum(d), length: d.length }];

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy({
    name: 'deep-chain',
    functions: {
      deep: { module: 'deep', trusted: true, domain: 'stack' },
      checksum: { module: 'checksum', trusted: true, domain: 'stack' },
    },
    edges: [{ from: 'deep', to: 'checksum' }],
  });
  await engine.deploy({
    name: 'roomy-chain',
    functions: {
      roomy: { module: 'deep', trusted: true, domain: 'roomy', stackBytes: 1 << 19 },
      'roomy-checksum': { module: 'checksum', trusted: true, domain: 'roomy' },
    },
    edges: [{ from: 'roomy', to: 'roomy-checksum' }],
  });
});
test.after(() => closeEngine(engine));

test('recursion within the stack returns the right result', async () => {
  const d = deepInput(7000, workloads.produce(50_000, 1));
  assert.equal(workloads.readChecksums(await engine.invoke('deep-chain', d)), expected(d));
});

test('every overflow traps with "stack overflow"; no run returns a wrong checksum as success', async () => {
  // From just past the default 64 KiB stack to far beyond it.
  for (let i = 0; i < 12; i++) {
    // Frames of `deep` take 8 bytes: 64 KiB hold about 8 000 of them.
    const depth = 9000 + Math.floor(rnd() * 30_000);
    const d = deepInput(depth, workloads.produce(20_000 + Math.floor(rnd() * 200_000), 10 + i));
    await rejectsWith(engine.invoke('deep-chain', d), 'E_FUNCTION_TRAP', /stack overflow/);
    // The group was discarded (one fate); the next invocation is right.
    const good = deepInput(200, workloads.produce(30_000, 100 + i));
    assert.equal(workloads.readChecksums(await engine.invoke('deep-chain', good)), expected(good), `after overflow #${i}`);
  }
});

test('stackBytes gives a function a deeper stack', async () => {
  const d = deepInput(40_000, workloads.produce(40_000, 7));
  assert.equal(workloads.readChecksums(await engine.invoke('roomy-chain', d)), expected(d));
});

test('stackBytes is validated', async () => {
  await rejectsWith(engine.deploy({ name: 'bad-stack', module: 'deep', stackBytes: 100 }), 'E_CONFIG', /stackBytes/);
  await rejectsWith(engine.deploy({ name: 'bad-stack-wf', functions: { f: { module: 'deep', stackBytes: 4100 } } }), 'E_WORKFLOW_INVALID', /stackBytes/);
});

test.run();
