// json-as (which keeps a global output buffer grown with heap.realloc, and
// lazily filled lookup tables in its static data) in one long-lived engine:
//  - on one thread, documents of 1 KB, 1 KB and 64 KB in a row all come out
//    right (each call's output once overlapped the module's own buffer, and
//    the third call found the heap corrupt);
//  - engine.map over 10 000 varied documents, 8 at a time on two threads,
//    with json-as in a trusted domain beside other embedded functions that
//    run at the same time: every output right, no memory discarded, and the
//    memory in use flat (the peak over the last 1 000 inputs within 1.2× the
//    highest peak of the first five windows of 1 000: the working set may
//    step up once, when a second worker's caches fill, but a leak goes on
//    growing to the end).
// Expected outputs come from a JavaScript reimplementation of the guest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { SOURCE } from './fixtures/libs/json-as.js';
import { compileCwasi, framed, scenarioRandom, writeGuestSource, SEED, assertSameBytes } from './helpers/differential.js';
import { order, orderOfSize, orderText, reference } from './helpers/json-orders.js';

const ASC_ARGS = ['--transform', 'json-as'];
const enc = new TextEncoder();

const guest = (() => {
  let p: Promise<Uint8Array> | undefined;
  return () => (p ??= compileCwasi(writeGuestSource('json-as', SOURCE), ASC_ARGS));
})();

test('one thread: documents of 1 KB, 1 KB and 64 KB in a row, with module state, all right', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    await engine.deploy({ name: 'orders', module: await guest() });
    const rnd = scenarioRandom(SEED, 'json-as/repro');
    const ref = reference();
    for (const size of [1024, 1024, 64 * 1024, 1024, 64 * 1024, 300]) {
      const input = framed(true, enc.encode(orderText(rnd, orderOfSize(rnd, size))));
      const expected = ref(input) as Uint8Array;
      const out = await engine.invoke('orders', input);
      assertSameBytes(out, expected, `document of ${size} bytes`);
    }
  } finally {
    await engine.close();
  }
});

test('engine.map: 10 000 documents, concurrency 8, beside other embedded functions: all right, no discard, flat memory', async () => {
  const engine = await Engine.create({ threads: 2 });
  try {
    await engine.deploy({ name: 'orders', module: await guest(), trusted: true, domain: 'shop' });
    await engine.deploy({ name: 'sum', module: 'checksum', trusted: true, domain: 'shop' });
    await engine.deploy({ name: 'make', module: 'producer', trusted: true, domain: 'shop' });
    const group = (): NonNullable<ReturnType<Engine['stats']>['memory'][number]> => {
      const g = engine.stats().memory.find((m) => m.members.includes('orders'));
      assert.ok(g !== undefined, 'the group of orders');
      assert.ok(g.members.includes('sum') && g.members.includes('make'), `one memory for the domain (${g.members.join(', ')})`);
      return g;
    };
    const N = 10_000;
    const rnd = scenarioRandom(SEED, 'json-as/map');
    const inputs: Uint8Array[] = [];
    const expected: Uint8Array[] = [];
    for (let i = 0; i < N; i++) {
      // Mostly small random orders; every 50th a large one, 32 KB down to
      // 8 KB in a cycle of 1 000 inputs, so that every window of 1 000 holds
      // the same mix (its largest first) and a difference between windows is
      // the engine's, not the sample's.
      const o = i % 50 === 49 ? orderOfSize(rnd, 8 * 1024 + (19 - (Math.floor(i / 50) % 20)) * 1229) : order(rnd);
      const input = framed(false, enc.encode(orderText(rnd, o)));
      inputs.push(input);
      // Without the history flag the reply does not depend on earlier calls.
      expected.push(reference()(input) as Uint8Array);
    }
    // Other members of the memory work at the same time.
    let sideCalls = 0;
    let stop = false;
    const side = (async () => {
      while (!stop) {
        const out = await engine.invoke('sum', inputs[sideCalls % N]!);
        assert.is(new DataView(out.buffer, out.byteOffset).getUint32(4, true), inputs[sideCalls % N]!.length);
        sideCalls++;
      }
    })();
    const inUse: number[] = new Array(N).fill(0);
    let wrong = 0;
    let failed = 0;
    for await (const r of engine.map('orders', inputs, { concurrency: 8 })) {
      if (r.error !== undefined) {
        failed++;
        if (failed <= 3) console.error(`input ${r.index}: ${r.error.code} ${r.error.message}`);
      } else if (Buffer.compare(Buffer.from(r.output), Buffer.from(expected[r.index]!)) !== 0) {
        wrong++;
      }
      inUse[r.index] = group().bytesInUse;
    }
    stop = true;
    await side;
    assert.is(failed, 0, 'failed inputs');
    assert.is(wrong, 0, 'wrong outputs');
    assert.ok(sideCalls > 0, 'the other members ran');
    const g = group();
    assert.is(g.discards, 0, `discards (last: ${g.discards})`);
    const peaks = Array.from({ length: N / 1000 }, (_, w) => Math.max(...inUse.slice(w * 1000, (w + 1) * 1000)));
    const first = Math.max(...peaks.slice(0, 5));
    const last = peaks[peaks.length - 1]!;
    console.log(`  memory in use: peak per 1 000 inputs ${peaks.map((p) => (p / 1048576).toFixed(2)).join(', ')} MiB; last ÷ highest of the first five ${(last / first).toFixed(3)}×; ${sideCalls} calls of another member beside`);
    assert.ok(last <= 1.2 * first, `last 1 000 peak ${last} > 1.2 × highest first-half peak ${first} (${peaks.join(', ')})`);
  } finally {
    await engine.close();
  }
});

test.run();
