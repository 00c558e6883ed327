// Guest-call limits (ABI.md, status -5): nesting depth, calls in flight per
// invocation and per engine. Each refusal names its limit, and a burst of
// calls from one guest leaves the event loop responsive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';

/** Input of `chain`: n, then the function it calls. */
function chainInput(n: number, target: string): Uint8Array {
  const name = new TextEncoder().encode(target);
  const out = new Uint8Array(4 + name.length);
  new DataView(out.buffer).setUint32(0, n, true);
  out.set(name, 4);
  return out;
}

let engine: Engine;
let tight: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: { min: 2, max: 6 }, guestCalls: { maxDepth: 3 } });
  await engine.deploy([
    { name: 'chain', module: 'chain' },
    { name: 'inline-chain', module: 'chain', trusted: true, domain: 'chains' },
    { name: 'scatter', module: 'scatter' },
    { name: 'iso-checksum', module: 'checksum' },
  ]);
  tight = await Engine.create({ threads: 2, guestCalls: { maxInFlight: 4 } });
  await tight.deploy([{ name: 'scatter', module: 'scatter' }, { name: 'iso-checksum', module: 'checksum' }]);
});
test.after(async () => {
  await closeEngine(engine);
  await closeEngine(tight);
});

test('a chain within the depth limit completes', async () => {
  const out = await engine.invoke('chain', chainInput(3, 'chain'));
  assert.is(new DataView(out.buffer, out.byteOffset).getUint32(0, true), 0);
});

test('an untrusted self-call chain deeper than the limit is cut with status -5 naming the depth limit', async () => {
  // Every caller up the chain sees -5, not only the one that hit the limit (ABI.md).
  const e = await rejectsWith(engine.invoke('chain', chainInput(20, 'chain')), 'E_FUNCTION_FAILED', /^chain failed \(code 2\): chain call failed with status -5 .*guest call depth limit of 3/);
  assert.not.match(e.message, /status -2/);
  assert.is(e.details?.limit, 'depth');
  // The engine keeps serving.
  await engine.invoke('chain', chainInput(2, 'chain'));
});

test('an inline (embedded) chain has the same depth limit', async () => {
  const e = await rejectsWith(engine.invoke('inline-chain', chainInput(50, 'inline-chain')), 'E_FUNCTION_FAILED', /^inline-chain failed \(code 2\): chain call failed with status -5 .*guest call depth limit of 3/);
  assert.not.match(e.message, /status -2/);
});

test('a burst of 5000 calls from one guest: calls past the per-invocation limit get -5, the event loop stays responsive', async () => {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await rejectsWith(engine.invoke('scatter', workloads.scatterSpec(1000, 1, 5000, 'iso-checksum')), 'E_FUNCTION_FAILED',
    /status -5 .*limit of 256 guest calls in flight per invocation/);
  delay.disable();
  console.log(`   event loop delay max ${(delay.max / 1e6).toFixed(1)} ms during a 5000-call burst`);
  const hash = workloads.checksum(workloads.produce(1000, 2));
  assert.equal(workloads.readChecksums(await engine.invoke('scatter', workloads.scatterSpec(1000, 2, 200, 'iso-checksum'))),
    Array.from({ length: 200 }, () => ({ hash, length: 1000 })));
});

test('calls past the engine-wide limit get -5 naming it', async () => {
  await rejectsWith(tight.invoke('scatter', workloads.scatterSpec(1000, 3, 100, 'iso-checksum')), 'E_FUNCTION_FAILED', /engine limit of 4 guest calls in flight/);
});

test('limits are validated', async () => {
  await rejectsWith(Engine.create({ guestCalls: { maxDepth: 0 } }), 'E_CONFIG', /maxDepth/);
});

test.run();
