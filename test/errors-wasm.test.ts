// Invalid modules: bytes that are not wasm, modules that do not implement the
// guest ABI (no shared env.memory, missing exports, foreign imports, another
// ABI version) and guests that report an output outside their memory. Each
// gets a typed error; none of them disturbs other deployed functions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { HAND_BUILT_STACK_POINTER, I32, abiModule, buildModule, call, i32c, type FuncDef, type ImportFunc, type ModuleDef, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine, expectFulfilled, expectRejected, settleAll } from './helpers/settle.js';

let engine: Engine;
const rnd = prng(SEED ^ 0x3a5);
const SHARED_MEMORY: NonNullable<ModuleDef['memory']> = { min: 1, max: 65536, shared: true };
const OUTPUT: ImportFunc = { module: 'cwasi', name: 'output', params: [I32, I32], results: [] };

/** The ABI exports of abiModule, with some left out or extra imports added. */
function handBuilt(opts: { omit?: string[]; imports?: ImportFunc[]; memory?: ModuleDef['memory'] | null }): Uint8Array {
  const imports = [OUTPUT, ...(opts.imports ?? [])];
  const funcs: FuncDef[] = [
    { name: 'cwasi_main', params: [I32, I32], results: [I32], body: [...i32c(0), ...i32c(0), ...call(0), ...i32c(0)] },
    { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
    ...RT_STUBS,
    { name: '_start', params: [], results: [], body: [] },
  ].filter((f) => f.name === undefined || !(opts.omit ?? []).includes(f.name));
  const def: ModuleDef = { imports, funcs };
  if (!(opts.omit ?? []).includes('__stack_pointer')) def.stackPointer = HAND_BUILT_STACK_POINTER;
  if (opts.memory !== null) def.memory = opts.memory ?? SHARED_MEMORY;
  return buildModule(def);
}

/** The names currently deployed. */
const names = (): string[] => engine.functions().map((f) => f.name).sort();

/** deploy must refuse `module` with `code`, deploy nothing, and leave the name free. */
async function refusedModule(name: string, module: Uint8Array, code: 'E_WASM_INVALID', message: RegExp): Promise<void> {
  const before = names();
  await rejectsWith(engine.deploy({ name, module }), code, message);
  assert.equal(names(), before, `${name}: a refused module must not be deployed`);
  await rejectsWith(engine.invoke(name, new Uint8Array(1)), 'E_UNKNOWN_FUNCTION');
}

/** Invocations of the good functions, checked against the mirrors. */
async function goodOnes(count: number): Promise<void> {
  const inputs = Array.from({ length: count }, (_, i) => workloads.produce(Math.floor(rnd() * 9000), 100 + i));
  const results = await settleAll(inputs.flatMap((d) => [engine.invoke('checksum', d), engine.invoke('identity', d)]), 10_000, 'good invocations');
  inputs.forEach((d, i) => {
    assert.equal(workloads.readChecksums(expectFulfilled(results[2 * i], `checksum #${i}`)), [{ hash: workloads.checksum(d), length: d.length }]);
    assert.ok(bytesEqual(expectFulfilled(results[2 * i + 1], `identity #${i}`), d), `identity #${i}`);
  });
}

const identityWasm = (): Uint8Array => new Uint8Array(readFileSync(new URL('../functions/identity.wasm', import.meta.url)));

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['identity', 'checksum'].map((m) => ({ name: m, module: m })));
  // Instances of the good functions exist before any bad module shows up.
  await goodOnes(2);
});

test.after(async () => {
  await closeEngine(engine);
});

test('bytes that are not wasm are E_WASM_INVALID', async () => {
  await refusedModule('garbage', Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff), 'E_WASM_INVALID', /garbage: <bytes> is not valid WebAssembly/);
  await refusedModule('empty', new Uint8Array(0), 'E_WASM_INVALID', /empty: <bytes> is not valid WebAssembly/);
  // Right magic, wrong version word.
  await refusedModule('v0', Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00), 'E_WASM_INVALID', /not valid WebAssembly/);
});

test('a truncated real module is E_WASM_INVALID', async () => {
  const full = identityWasm();
  // (The 8-byte header alone is a valid empty module: cut inside sections.)
  for (const cut of [9, 12, full.length >> 1, full.length - 1]) {
    await refusedModule(`cut-${cut}`, full.subarray(0, cut), 'E_WASM_INVALID', /not valid WebAssembly/);
  }
  // The same bytes complete deploy and run fine.
  await engine.deploy({ name: 'whole', module: full });
  const data = workloads.produce(500, 2);
  assert.ok(bytesEqual(await engine.invoke('whole', data), data));
});

test('a module that does not import a shared env.memory is E_WASM_INVALID', async () => {
  const msg = /must import a shared memory as env\.memory/;
  await refusedModule('unshared', abiModule({ memoryImport: { min: 1, max: 65536, shared: false } }), 'E_WASM_INVALID', msg);
  await refusedModule('no-memory', handBuilt({ memory: null }), 'E_WASM_INVALID', msg);
  await refusedModule('other-name', handBuilt({ memory: { ...SHARED_MEMORY, name: 'mem' } }), 'E_WASM_INVALID', msg);
  await refusedModule('other-module', handBuilt({ memory: { ...SHARED_MEMORY, module: 'js' } }), 'E_WASM_INVALID', msg);
});

test('a module missing ABI exports is E_WASM_INVALID naming them', async () => {
  await refusedModule('no-main', handBuilt({ omit: ['cwasi_main'] }), 'E_WASM_INVALID', /does not export cwasi_main\b/);
  await refusedModule('no-rt', handBuilt({ omit: ['cwasi_rt_init', 'cwasi_abi_version'] }), 'E_WASM_INVALID', /does not export cwasi_abi_version, cwasi_rt_init/);
});

test('an import from a foreign namespace is E_WASM_INVALID naming it', async () => {
  await refusedModule('wasi', handBuilt({ imports: [{ module: 'wasi_snapshot_preview1', name: 'fd_write', params: [I32, I32, I32, I32], results: [I32] }] }),
    'E_WASM_INVALID', /imports wasi_snapshot_preview1\.fd_write; only the "cwasi" and "env" namespaces exist/);
});

test('an import the host does not provide is E_WASM_INVALID at the first invoke', async () => {
  await engine.deploy({ name: 'odd-import', module: handBuilt({ imports: [{ module: 'cwasi', name: 'teleport', params: [], results: [] }] }) });
  for (let i = 0; i < 2; i++) {
    await rejectsWith(engine.invoke('odd-import', new Uint8Array(1)), 'E_WASM_INVALID', /odd-import: instantiation failed: .*teleport/);
  }
});

test('a wrong ABI version is E_WASM_INVALID at the first invoke, naming the version', async () => {
  await engine.deploy({ name: 'abi-v3', module: abiModule({ version: 3 }) });
  for (let i = 0; i < 3; i++) {
    await rejectsWith(engine.invoke('abi-v3', new Uint8Array(4)), 'E_WASM_INVALID', /abi-v3: guest ABI version 3, host speaks 2/);
  }
});

test('an output outside the guest memory is E_BAD_DESCRIPTOR', async () => {
  await engine.deploy([
    { name: 'far-out', module: abiModule({ outPtr: 0x7fffffff, outLen: 16 }) },
    // Straddles the end of the 2 MiB initial memory.
    { name: 'edge-out', module: abiModule({ outPtr: 2 * 1024 * 1024 - 8, outLen: 16 }) },
    // ptr + len wraps around 2^32.
    { name: 'wrap-out', module: abiModule({ outPtr: -16, outLen: 32 }) },
  ]);
  await rejectsWith(engine.invoke('far-out', new Uint8Array(1)), 'E_BAD_DESCRIPTOR', /far-out: output \[2147483647, \+16\) is outside its memory/);
  await rejectsWith(engine.invoke('edge-out', new Uint8Array(1)), 'E_BAD_DESCRIPTOR', /edge-out: output .* is outside its memory/);
  await rejectsWith(engine.invoke('wrap-out', new Uint8Array(1)), 'E_BAD_DESCRIPTOR', /wrap-out: output .* is outside its memory/);
  // Again: the instance is not left in a state that turns the next call into something else.
  await rejectsWith(engine.invoke('far-out', new Uint8Array(1)), 'E_BAD_DESCRIPTOR', /outside its memory/);
});

test('a guest returning a non-zero status without a message is E_FUNCTION_FAILED with its code', async () => {
  await engine.deploy({ name: 'status-5', module: abiModule({ status: 5 }) });
  const e = await rejectsWith(engine.invoke('status-5', new Uint8Array(1)), 'E_FUNCTION_FAILED', /status-5 failed \(code 5\)/);
  assert.is(e.details?.guestCode, 5);
});

test('bad modules invoked alongside good ones: every invocation settles, the good ones are correct', async () => {
  const bad: Array<{ name: string; code: 'E_WASM_INVALID' | 'E_BAD_DESCRIPTOR' | 'E_FUNCTION_FAILED' | 'E_UNKNOWN_FUNCTION' }> = [
    { name: 'abi-v3', code: 'E_WASM_INVALID' }, { name: 'far-out', code: 'E_BAD_DESCRIPTOR' }, { name: 'odd-import', code: 'E_WASM_INVALID' },
    { name: 'status-5', code: 'E_FUNCTION_FAILED' }, { name: 'garbage', code: 'E_UNKNOWN_FUNCTION' },
  ];
  const inputs = Array.from({ length: 20 }, (_, i) => workloads.produce(1 + Math.floor(rnd() * 30000), 500 + i));
  const runs: Array<Promise<Uint8Array>> = [];
  inputs.forEach((d, i) => {
    runs.push(engine.invoke('checksum', d));
    runs.push(engine.invoke(bad[i % bad.length]!.name, d));
  });
  const results = await settleAll(runs, 15_000, 'mixed invocations');
  inputs.forEach((d, i) => {
    assert.equal(workloads.readChecksums(expectFulfilled(results[2 * i], `checksum #${i}`)), [{ hash: workloads.checksum(d), length: d.length }]);
    expectRejected(results[2 * i + 1], bad[i % bad.length]!.code, undefined, `${bad[i % bad.length]!.name} #${i}`);
  });
  // And refused deploys in between leave the good functions alone.
  await refusedModule('garbage-2', new Uint8Array([0, 1, 2, 3]), 'E_WASM_INVALID', /not valid WebAssembly/);
  await goodOnes(4);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test.run();
