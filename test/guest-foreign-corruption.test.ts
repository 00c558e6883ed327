// A guest that wrecks its own memory header and then calls another function
// must not take that function's memory down with it: the callee reads the
// payload from the caller's memory, finds it corrupt, and the call fails
// (E_BAD_DESCRIPTOR for the callee's task, status -2 for the caller). The
// callee's memory stays, and its next invocations are right.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { I32, guestModule, call, i32c, i32store, type ImportFunc, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

const NAME_AT = 1024;
const TARGET = 'iso-checksum';
const IMPORTS: ImportFunc[] = [
  { module: 'cwasi', name: 'output', params: [I32, I32], results: [] },
  { module: 'cwasi', name: 'call_start', params: [I32, I32, I32, I32], results: [I32] },
  { module: 'cwasi', name: 'call_wait', params: [I32, I32], results: [I32] },
];

/** Zeroes its header's magic, calls TARGET with its static data, waits, outputs nothing. */
const wrecker = guestModule({
  memory: { min: 1, max: 65536, shared: true },
  imports: IMPORTS,
  funcs: [
    {
      name: 'cwasi_main', params: [I32, I32], results: [I32],
      body: [
        ...i32c(0), ...i32c(0), ...i32store(),
        ...i32c(NAME_AT), ...i32c(TARGET.length), ...i32c(NAME_AT), ...i32c(TARGET.length), ...call(1),
        ...i32c((1 << 20) + 64), ...call(2), 0x1a,
        ...i32c(0), ...i32c(0), ...call(0), ...i32c(0),
      ],
    },
    { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
    ...RT_STUBS,
  ],
  data: [{ offset: NAME_AT, bytes: [...new TextEncoder().encode(TARGET)] }],
});

let engine: Engine;
test.before(async () => {
  engine = await Engine.create({ threads: { min: 2, max: 4 } });
  await engine.deploy([{ name: TARGET, module: 'checksum' }, { name: 'wrecker', module: wrecker }]);
});
test.after(() => closeEngine(engine));

const generation = () => engine.stats().memory.find((m) => m.members.includes(TARGET))!.generation;

test("a caller's corrupt memory fails the call, not the callee's memory", async () => {
  const before = generation();
  for (const mode of ['local', 'copy'] as const) {
    // The wrecker's own invocation may succeed or fail; it is its memory.
    await engine.invoke('wrecker', new Uint8Array(8), { guestCallMode: mode }).catch(() => undefined);
    assert.is(generation(), before, `${mode}: the callee's memory was not discarded`);
    const d = workloads.produce(10_000, 1);
    assert.equal(workloads.readChecksums(await engine.invoke(TARGET, d)), [{ hash: workloads.checksum(d), length: d.length }]);
  }
});

test.run();
