// A module whose start section never returns cannot hang deploy or stop the
// engine: given as bytes it is refused before anything of it runs (a cwasi
// guest has no start section); given as a compiled WebAssembly.Module, whose
// bytes cannot be read back, its probe runs in a worker that is stopped at
// its time bound. Both end in a typed error within 5 s, and invocations on
// the same engine complete meanwhile.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { performance } from 'node:perf_hooks';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, within } from './helpers/settle.js';
import { watchdog } from './helpers/watchdog.js';
import { LOOP_FOREVER, UNREACHABLE, abiModule } from './helpers/wasm-builder.js';

/** What the Done-when of the issue allows; the engine's bound is well under it. */
const LIMIT_MS = 5000;
const looping = abiModule({ start: LOOP_FOREVER });
const input = workloads.produce(4096, 7);
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
  await engine.deploy({ name: 'sum', module: 'checksum' });
  // Warm: the worker and the instance exist before the calls that are measured.
  await engine.invoke('sum', input);
});

test.after(async () => {
  await closeEngine(engine);
});

async function sum(): Promise<void> {
  const out = await engine.invoke('sum', input);
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(input), length: input.length }]);
}

test('as bytes: refused (E_WASM_INVALID, start section) before anything runs, at once', async () => {
  const guard = watchdog(30_000, 'deploying looping bytes');
  const t0 = performance.now();
  try {
    await rejectsWith(within(engine.deploy({ name: 'loop-bytes', module: looping }), 30_000, 'deploy of looping bytes'),
      'E_WASM_INVALID', /loop-bytes: <bytes> is not a safe cwasi module: .*start section/);
  } finally {
    guard.disarm();
  }
  const ms = performance.now() - t0;
  assert.ok(ms < LIMIT_MS, `took ${ms.toFixed(0)} ms`);
  assert.not.ok(engine.functions().some((f) => f.name === 'loop-bytes'));
  await sum();
});

test('as a WebAssembly.Module: E_TIMEOUT at the probe bound, while other calls complete', async () => {
  const module = new WebAssembly.Module(looping as Uint8Array<ArrayBuffer>);
  // The old probe instantiated on this thread: the deploy call itself never returned.
  const guard = watchdog(30_000, 'deploying a looping WebAssembly.Module');
  const t0 = performance.now();
  let settled = false;
  const deploying = engine.deploy({ name: 'loop-module', module });
  deploying.then(() => { settled = true; }, () => { settled = true; });
  // Calls started after the deploy, until it settles: at least one of them
  // must complete while the probe is still running.
  let servedMeanwhile = 0;
  while (!settled) {
    await sum();
    if (!settled) servedMeanwhile++;
  }
  try {
    await rejectsWith(within(deploying, 30_000, 'deploy of a looping Module'), 'E_TIMEOUT', /loop-module: .*probing .* did not finish within \d+ ms/);
  } finally {
    guard.disarm();
  }
  const ms = performance.now() - t0;
  assert.ok(ms < LIMIT_MS, `took ${ms.toFixed(0)} ms`);
  assert.ok(servedMeanwhile >= 1, `${servedMeanwhile} calls completed while the probe ran`);
  assert.not.ok(engine.functions().some((f) => f.name === 'loop-module'));
  await sum();
});

test('as a WebAssembly.Module: a start section that traps is E_WASM_INVALID from the probe worker', async () => {
  const module = new WebAssembly.Module(abiModule({ start: [UNREACHABLE] }) as Uint8Array<ArrayBuffer>);
  const guard = watchdog(30_000, 'deploying a trapping WebAssembly.Module');
  try {
    await rejectsWith(within(engine.deploy({ name: 'trap-module', module }), 30_000, 'deploy of a trapping Module'),
      'E_WASM_INVALID', /trap-module: instantiating the module ran code of it/);
  } finally {
    guard.disarm();
  }
  await sum();
});

test.run();
