// cwasi.region_grow grants at least 16 KiB while that fits. A hand-built
// guest asks for two 16-byte regions and outputs the distance between them:
// 16 KiB apart, not 16 bytes. With 16-byte regions a guest could make millions
// of heap blocks, free every other one and leave a genuine free list of
// millions of blocks for every input the main thread places to walk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { MIN_REGION_BYTES } from '../engine/worker/host.js';
import { I32, guestModule, call, i32c, i32store, localGet, localSet, type ImportFunc, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

const OUTPUT: ImportFunc = { module: 'cwasi', name: 'output', params: [I32, I32], results: [] };
const REGION_GROW: ImportFunc = { module: 'cwasi', name: 'region_grow', params: [I32, I32], results: [I32] };
const I32_SUB = 0x6b;

/** cwasi_main: a = region_grow(16), b = region_grow(16); store b - a at a; output [a, +4). */
function tinyRegions(): Uint8Array {
  const A = 2;
  const B = 3;
  return guestModule({
    memory: { min: 1, max: 65536, shared: true },
    imports: [OUTPUT, REGION_GROW],
    funcs: [
      {
        name: 'cwasi_main', params: [I32, I32], results: [I32], locals: 2,
        body: [
          ...i32c(16), ...i32c(0), ...call(1), ...localSet(A),
          ...i32c(16), ...i32c(0), ...call(1), ...localSet(B),
          ...localGet(A), ...localGet(B), ...localGet(A), I32_SUB, ...i32store(0),
          ...localGet(A), ...i32c(4), ...call(0),
          ...i32c(0),
        ],
      },
      { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
      ...RT_STUBS,
    ],
  });
}

let engine: Engine;
test.before(async () => {
  engine = await Engine.create({ threads: 1 });
  await engine.deploy({ name: 'tiny', module: tinyRegions() });
});
test.after(() => closeEngine(engine));

test('two 16-byte region requests are granted 16 KiB each', async () => {
  const out = await engine.invoke('tiny', new Uint8Array(1));
  assert.is(out.length, 4);
  const distance = new DataView(out.buffer, out.byteOffset, 4).getUint32(0, true);
  assert.ok(distance >= MIN_REGION_BYTES, `regions ${distance} bytes apart`);
});

test.run();
