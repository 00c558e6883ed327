// A workflow built in code may carry a module as bytes in
// functions.<name>.module: it deploys, embeds and runs like one named by path;
// bad bytes are E_WASM_INVALID naming the function, and the rest of the
// document is still validated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Engine, workloads, type WorkflowDocument } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
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
