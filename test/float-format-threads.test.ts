// AssemblyScript's float-to-string conversion writes its digits into a
// scratch buffer; in plain asc that buffer is static data, one copy per
// memory. A function's instances on two workers share its memory, so cwasi
// builds the standard library with that scratch taken from the instance's
// own heap: 32 calls that each print 2 000 doubles, 8 at a time on two
// threads, all print exactly what JavaScript prints for the same values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { compileCwasi } from './helpers/differential.js';
import { SEED } from './helpers/env.js';

const SOURCE = fileURLToPath(new URL('../../test/fixtures/guests/float-format.ts', import.meta.url));
const COUNT = 2000;

function request(seed: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, seed, true);
  v.setUint32(4, COUNT, true);
  return b;
}

/** The guest's output computed in JavaScript (AssemblyScript prints whole doubles with ".0"). */
function expected(seed: number): string {
  let x = seed >>> 0;
  let out = '';
  for (let i = 0; i < COUNT; i++) {
    x = (x ^ (x << 13)) >>> 0; x = (x ^ (x >>> 17)) >>> 0; x = (x ^ (x << 5)) >>> 0;
    const v = ((x | 0) >> 12) / 8;
    out += (Number.isInteger(v) ? `${v.toFixed(0)}.0` : String(v)) + '\n';
  }
  return out;
}

test('floats printed at once on two threads in one memory are all right', async () => {
  const wasm = await compileCwasi(SOURCE);
  const engine = await Engine.create({ threads: 2 });
  try {
    await engine.deploy({ name: 'floats', module: wasm });
    const seeds = Array.from({ length: 32 }, (_, i) => (SEED * 31 + i * 7919) >>> 0 || 1);
    const decoder = new TextDecoder();
    let wrong = 0;
    let firstWrong = '';
    for (let i = 0; i < seeds.length; i += 8) {
      const batch = seeds.slice(i, i + 8);
      const outs = await Promise.all(batch.map((s) => engine.invoke('floats', request(s))));
      outs.forEach((o, j) => {
        const got = decoder.decode(o);
        const want = expected(batch[j]!);
        if (got !== want) {
          wrong++;
          if (firstWrong === '') {
            const a = got.split('\n'), b = want.split('\n');
            const k = a.findIndex((line, n) => line !== b[n]);
            firstWrong = `seed ${batch[j]}: line ${k} is ${JSON.stringify(a[k])}, expected ${JSON.stringify(b[k])}`;
          }
        }
      });
    }
    assert.is(wrong, 0, `${wrong} of ${seeds.length} outputs differ (${firstWrong})`);
  } finally {
    await engine.close();
  }
});

test.run();
