// An output or call payload must be bytes the invocation owns: its module's
// static data, one of its inputs, or its own arena. A slice over the memory
// header, the whole memory or the host's input table gets E_BAD_DESCRIPTOR,
// and the next invocations are healthy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { bytesEqual } from './helpers/env.js';
import { I32, abiModule, guestModule, call, i32c, localGet, type ImportFunc, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;
const OUTPUT: ImportFunc = { module: 'cwasi', name: 'output', params: [I32, I32], results: [] };

/** Outputs its own input table (table pointer, 8 bytes). */
const tableOutput = guestModule({
  memory: { min: 1, max: 65536, shared: true },
  imports: [OUTPUT],
  funcs: [
    { name: 'cwasi_main', params: [I32, I32], results: [I32], body: [...localGet(0), ...i32c(8), ...call(0), ...i32c(0)] },
    { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
    ...RT_STUBS,
  ],
});

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy([
    { name: 'header-out', module: abiModule({ outPtr: 0, outLen: 1024 }) },
    { name: 'header-tail-out', module: abiModule({ outPtr: 1000, outLen: 100 }) },
    // The memory starts with 1 MiB + 16 pages of heap: 64 KiB is well inside it.
    { name: 'memory-out', module: abiModule({ outPtr: 0, outLen: 65536 }) },
    { name: 'heap-out', module: abiModule({ outPtr: (1 << 20) + (256 << 10), outLen: 4096 }) },
    { name: 'table-out', module: tableOutput },
    { name: 'identity', module: 'identity' },
  ]);
});
test.after(() => closeEngine(engine));

test('outputs over host-owned regions are refused with E_BAD_DESCRIPTOR', async () => {
  await rejectsWith(engine.invoke('header-out', new Uint8Array(4)), 'E_BAD_DESCRIPTOR', /memory header/);
  await rejectsWith(engine.invoke('header-tail-out', new Uint8Array(4)), 'E_BAD_DESCRIPTOR', /memory header/);
  await rejectsWith(engine.invoke('memory-out', new Uint8Array(4)), 'E_BAD_DESCRIPTOR', /memory header/);
  await rejectsWith(engine.invoke('table-out', new Uint8Array(4)), 'E_BAD_DESCRIPTOR', /input table/);
  // Heap bytes no arena of this invocation holds (uncarved, or another invocation's).
  await rejectsWith(engine.invoke('heap-out', new Uint8Array(4)), 'E_BAD_DESCRIPTOR', /not memory this invocation owns/);
});

test('the same functions keep answering, and good outputs pass', async () => {
  for (let i = 0; i < 3; i++) await rejectsWith(engine.invoke('header-out', new Uint8Array(1)), 'E_BAD_DESCRIPTOR');
  const d = workloads.produce(70_000, 5);
  assert.ok(bytesEqual(await engine.invoke('identity', d), d));
  assert.equal(await engine.invoke('header-out', new Uint8Array(0)).catch((e: Error) => e.message).then((m) => typeof m), 'string');
});

test.run();
