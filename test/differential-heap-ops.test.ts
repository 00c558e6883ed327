// The guest runtime's property test: seeded random programs of allocations
// (small and large managed objects, raw heap.alloc blocks, reallocs, lists of
// objects kept in module state, garbage, forced collections:
// test/fixtures/guests/heap-ops.ts) give, through the engine, by every route,
// in long sequences on one instance and under concurrency, exactly the output
// plain asc gives, and never find a slot's bytes changed under them.
import { fileURLToPath } from 'node:url';
import { compileCwasi, compilePlain, differentialSuite, randInt } from './helpers/differential.js';

const SOURCE = fileURLToPath(new URL('../../test/fixtures/guests/heap-ops.ts', import.meta.url));

differentialSuite('heap-ops', {
  functions: async () => ({ fn: { name: 'heap-ops', plain: await compilePlain(SOURCE), cwasi: await compileCwasi(SOURCE) } }),
  // A sequence runs programs on what earlier calls left; a concurrent call
  // (history false) empties the slots first, so its output is its own.
  input: (rnd, _i, history) => {
    const b = new Uint8Array(12);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, randInt(rnd, 1, 0xffffffff) >>> 0, true);
    dv.setUint32(4, randInt(rnd, 50, 400), true);
    dv.setUint32(8, history ? 0 : 1, true);
    return b;
  },
  stateful: true,
  sequenceCalls: 40,
});
