// A workflow built in code may carry a module as bytes or as a compiled
// WebAssembly.Module in functions.<name>.module: it deploys, embeds and runs
// like one named by path (a compiled module's static region is found without
// its bytes, exactly); bad bytes are E_WASM_INVALID naming the function, and
// the rest of the document is still validated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { abiModule } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

const wasm = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../functions/${name}.wasm`, import.meta.url)));
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
});

test.after(async () => {
  await closeEngine(engine);
});

test('a module given as bytes deploys, embeds beside a bundled one and runs', async () => {
  const doc: WorkflowDocument = {
    name: 'with-bytes',
    functions: { p: { module: 'producer', trusted: true, domain: 'b' }, c: { module: wasm('checksum'), trusted: true, domain: 'b' } },
    edges: [{ from: 'p', to: 'c' }],
  };
  const r = await engine.deploy(doc);
  assert.equal(r.workflow?.edges.map((e) => e.mode), ['embedded']);
  const out = await engine.invoke('with-bytes', workloads.producerSpec(4096, 11));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(4096, 11)), length: 4096 }]);
});

test('a compiled WebAssembly.Module deploys with the static region its bytes have, embeds and runs', async () => {
  const compiled = new WebAssembly.Module(wasm('checksum') as Uint8Array<ArrayBuffer>);
  const doc: WorkflowDocument = {
    name: 'with-module',
    functions: { p2: { module: 'producer', trusted: true, domain: 'm' }, c2: { module: compiled, trusted: true, domain: 'm' } },
    edges: [{ from: 'p2', to: 'c2' }],
  };
  const r = await engine.deploy(doc);
  assert.equal(r.workflow?.edges.map((e) => e.mode), ['embedded']);
  const byBytes = engine.plan('with-bytes').functions.find((f) => f.name === 'c')!.staticRegion;
  const byModule = r.workflow!.functions.find((f) => f.name === 'c2')!.staticRegion;
  assert.ok(byBytes !== null);
  assert.equal(byModule, byBytes);
  const out = await engine.invoke('with-module', workloads.producerSpec(3000, 12));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(3000, 12)), length: 3000 }]);
  // The same Module object again is the same module; another object is another module.
  await engine.deploy({ name: 'c2', module: compiled, trusted: true, domain: 'm' });
  await rejectsWith(engine.deploy({ name: 'c2', module: new WebAssembly.Module(wasm('checksum') as Uint8Array<ArrayBuffer>), trusted: true, domain: 'm' }),
    'E_WORKFLOW_INVALID', /"c2" is already deployed with another module/);
});

test("a compiled module's data segments are found exactly, even where they hold 0x00 or 0xff at their ends", async () => {
  const module = new WebAssembly.Module(abiModule({ data: [{ offset: 5000, bytes: [0x00, 0x12, 0xff] }, { offset: 7000, bytes: [0xff] }] }) as Uint8Array<ArrayBuffer>);
  const r = await engine.deploy({ name: 'edges', module });
  assert.equal(r.functions[0]!.staticRegion, { start: 5000, end: 7001 });
});

test('a compiled module without the stack pointer export is refused like its bytes', async () => {
  const unsafe = new WebAssembly.Module(abiModule({ noStackPointer: true }) as Uint8Array<ArrayBuffer>);
  await rejectsWith(engine.deploy({ name: 'unsafe-compiled', functions: { u: { module: unsafe } } }), 'E_WASM_INVALID',
    /u: <WebAssembly\.Module> is not a safe cwasi module: .*__stack_pointer/);
});

test('bytes that are not a module are E_WASM_INVALID naming the function; nothing is deployed', async () => {
  await rejectsWith(engine.deploy({ name: 'bad-bytes', functions: { x: { module: Uint8Array.of(1, 2, 3) } } }), 'E_WASM_INVALID', /x: <bytes> is not valid WebAssembly/);
  assert.not.ok(engine.functions().some((f) => f.name === 'x'));
});

test('the other fields of a function with bytes are still validated, and other objects are not modules', async () => {
  const bad = { name: 'w', functions: { c: { module: wasm('checksum'), trusted: 'yes' } } } as unknown as WorkflowDocument;
  await rejectsWith(engine.deploy(bad), 'E_WORKFLOW_INVALID', /\/functions\/c\/trusted must be boolean/);
  const notBytes = { name: 'w2', functions: { c: { module: { bytes: [0] } } } } as unknown as WorkflowDocument;
  await rejectsWith(engine.deploy(notBytes), 'E_WORKFLOW_INVALID', /\/functions\/c\/module must be string/);
});

test.run();
