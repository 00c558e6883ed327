// Hostile guests, generated from seeds: each seed builds a module that makes
// random ABI calls with random pointers and lengths, stores at random
// addresses of its memory (header included), recurses until the stack runs
// out, asks for huge chunks and starts bursts of calls it never waits for.
// It runs untrusted beside good functions in other trust domains, and
// trusted beside a good neighbour in its own domain. Invariants:
//
//  - no good function outside the hostile one's trust domain fails or
//    returns a wrong result (outputs are checked against the JS mirrors);
//  - nothing returns a wrong result as success: a neighbour in the hostile
//    one's domain may fail (one fate), never answer wrongly; the hostile one
//    succeeds only with the output length it declared;
//  - every failure is a typed CwasiError, never E_INTERNAL;
//  - the event loop never stalls longer than STALL_BOUND_MS
//    (perf_hooks.monitorEventLoopDelay; the maximum is printed);
//  - the engine keeps serving and close() returns promptly.
//
// `npm test` runs the fixed seeds below. A longer run:
//   node dist/test/guest-hostile-property.test.js --seeds 200   (or CWASI_HOSTILE_SEEDS=200)
// runs seeds SEED, SEED+1, ...; CWASI_SEED picks the first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { I32, guestModule, call, i32c, i32store, localGet, type ImportFunc, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine, within } from './helpers/settle.js';

const argSeeds = process.argv.indexOf('--seeds');
const SEEDS = Number(argSeeds >= 0 ? process.argv[argSeeds + 1] : process.env.CWASI_HOSTILE_SEEDS ?? 6);
/** A stall the engine must never cause; normal turns here take a few ms even on a loaded machine. */
const STALL_BOUND_MS = 1000;
/** Memories of hostile functions are capped, so "large allocations" hit E_MEMORY_LIMIT quickly. */
const HOSTILE_MEMORY = 32 << 20;
/** Static data of the generated module: the call target's name. */
const NAME_AT = 1024;
const TARGET = 'iso-checksum';

const IMPORTS: ImportFunc[] = [
  { module: 'cwasi', name: 'output', params: [I32, I32], results: [] },
  { module: 'cwasi', name: 'log', params: [I32, I32, I32], results: [] },
  { module: 'cwasi', name: 'fail', params: [I32, I32, I32], results: [] },
  { module: 'cwasi', name: 'call_start', params: [I32, I32, I32, I32], results: [I32] },
  { module: 'cwasi', name: 'call_wait', params: [I32, I32], results: [I32] },
  { module: 'cwasi', name: 'arena_grow', params: [I32], results: [I32] },
];
const [OUTPUT, LOG, FAIL, CALL_START, CALL_WAIT, ARENA_GROW] = [0, 1, 2, 3, 4, 5];
/** Function index of the recursive helper (after the imports and cwasi_main). */
const REC = IMPORTS.length + 1;
const DROP = 0x1a;

/**
 * One generated hostile module, the output length it declares last
 * (undefined: none) and, for a tame one, the bytes it must return on success.
 * Half the seeds are tame: pointers stay in bounds, stores spare its static
 * data, and it ends by returning that data, so a success can be checked byte
 * for byte; the others aim anywhere.
 */
function hostileModule(seed: number, limitStores: { below: number; above: number } | undefined): { wasm: Uint8Array; declared: number | undefined; expected?: Uint8Array } {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const tame = rnd() < 0.5;
  // Pointers: mostly near interesting places (header, static data, heap start), sometimes anywhere.
  const ptr = (): number => {
    const r = rnd();
    if (tame) return r < 0.5 ? NAME_AT : (1 << 20) + int(1 << 20);
    if (r < 0.25) return int(1024);
    if (r < 0.5) return NAME_AT + int(64);
    if (r < 0.8) return (1 << 20) + int(1 << 21);
    return int(2 ** 32) | 0;
  };
  const len = (): number => (tame ? int(TARGET.length + 1) : rnd() < 0.7 ? int(4096) : int(2 ** 32) | 0);
  const body: number[] = [];
  let declared: number | undefined;
  const ops = 4 + int(12);
  for (let k = 0; k < ops; k++) {
    const op = int(9);
    if (op <= 2) {
      // A store anywhere (header included), aligned so that it may land on a header field.
      let at = rnd() < 0.5 ? 4 * int(16) : 4 * int((tame ? 1 << 21 : 1 << 22) / 4);
      if (limitStores !== undefined && at >= limitStores.below && at < limitStores.above) at = 4 * int(16);
      if (tame && at >= NAME_AT && at < NAME_AT + 64) at = 4 * int(16);
      body.push(...i32c(at), ...i32c(int(2 ** 32) | 0), ...i32store());
    } else if (op === 3) {
      body.push(...i32c(int(3)), ...i32c(ptr()), ...i32c(len()), ...call(LOG));
    } else if (op === 4 && !tame) {
      const l = int(5000);
      body.push(...i32c(ptr()), ...i32c(l), ...call(OUTPUT));
      declared = l;
    } else if (op === 5) {
      // A burst of calls to a real function, never waited for (local 1 counts down).
      const n = 1 + int(300);
      body.push(...i32c(n), 0x21, 0x01, 0x03, 0x40,
        ...i32c(NAME_AT), ...i32c(TARGET.length), ...i32c(tame ? NAME_AT : ptr()), ...i32c(tame ? TARGET.length : int(2048)), ...call(CALL_START), DROP,
        ...localGet(1), ...i32c(1), 0x6b, 0x22, 0x01, 0x0d, 0x00, 0x0b);
    } else if (op === 6) {
      // call_wait writes the result slice where it is told: never over the static data a tame one returns.
      body.push(...i32c(int(8) - 2), ...i32c(tame ? (1 << 20) + 8 * int(1 << 17) : ptr()), ...call(CALL_WAIT), DROP);
    } else if (op === 7) {
      body.push(...i32c(tame || rnd() < 0.5 ? int(1 << 16) : int(2 ** 32) | 0), ...call(ARENA_GROW), DROP);
    } else {
      // Recursion: shallow, or deep enough to exhaust the native stack.
      body.push(...i32c(tame || rnd() < 0.5 ? int(100) : 10_000_000), ...call(REC), DROP);
    }
  }
  let expected: Uint8Array | undefined;
  const end = tame ? 3 : int(4);
  if (tame) {
    body.push(...i32c(NAME_AT), ...i32c(TARGET.length), ...call(OUTPUT));
    declared = TARGET.length;
    expected = new TextEncoder().encode(TARGET);
  }
  if (end === 0) body.push(...i32c(int(9) + 1), ...i32c(ptr()), ...i32c(len()), ...call(FAIL), ...i32c(1));
  else body.push(...i32c(end === 1 ? int(3) : 0));
  const wasm = guestModule({
    memory: { min: 1, max: 65536, shared: true },
    imports: IMPORTS,
    funcs: [
      { name: 'cwasi_main', params: [I32, I32], results: [I32], body },
      // rec(n) = n == 0 ? 0 : rec(n - 1) + 1
      { params: [I32], results: [I32], body: [...localGet(0), 0x45, 0x04, I32, ...i32c(0), 0x05, ...localGet(0), ...i32c(1), 0x6b, ...call(REC), ...i32c(1), 0x6a, 0x0b] },
      { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
      ...RT_STUBS,
    ],
    data: [{ offset: NAME_AT, bytes: [...new TextEncoder().encode(TARGET)] }],
  });
  return expected === undefined ? { wasm, declared } : { wasm, declared, expected };
}

let engine: Engine;
const delay = monitorEventLoopDelay({ resolution: 10 });
const stats = { seeds: 0, hostileOk: 0, hostileFailed: 0, sameDomainFailed: 0, good: 0 };

test.before(async () => {
  engine = await Engine.create({ threads: { min: 2, max: 4 }, timeoutMs: 20_000 });
  await engine.deploy([
    { name: TARGET, module: 'checksum' },
    { name: 'identity', module: 'identity' },
    { name: 'good-checksum', module: 'checksum', trusted: true, domain: 'good' },
    { name: 'good-transform', module: 'transform', trusted: true, domain: 'good' },
  ]);
  delay.enable();
});
test.after(async () => {
  delay.disable();
  const t0 = performance.now();
  await within(closeEngine(engine), 15_000, 'close()');
  console.log(`   seeds ${stats.seeds} (from ${SEED}), hostile ok ${stats.hostileOk} / failed ${stats.hostileFailed}, ` +
    `same-domain neighbour failed ${stats.sameDomainFailed}, good checked ${stats.good}; ` +
    `event loop delay max ${(delay.max / 1e6).toFixed(1)} ms; close() ${(performance.now() - t0).toFixed(0)} ms`);
});

/** A hostile outcome: success with the declared length, or a typed failure that is not an engine bug. */
function checkHostile(r: PromiseSettledResult<Uint8Array>, m: { declared: number | undefined; expected?: Uint8Array }, label: string): void {
  if (r.status === 'fulfilled') {
    stats.hostileOk++;
    assert.is(r.value.length, m.declared ?? -1, `${label}: a success carries the output it declared`);
    if (m.expected !== undefined) assert.ok(bytesEqual(r.value, m.expected), `${label}: a success returns exactly what it output`);
    return;
  }
  stats.hostileFailed++;
  assert.instance(r.reason, CwasiError, `${label}: ${String(r.reason)}`);
  assert.is.not((r.reason as CwasiError).code, 'E_INTERNAL', `${label}: ${(r.reason as Error).message}`);
}

function goodInvocations(rnd: () => number, label: string): Array<Promise<void>> {
  const out: Array<Promise<void>> = [];
  for (let i = 0; i < 3; i++) {
    const d = workloads.produce(1 + Math.floor(rnd() * 300_000), Math.floor(rnd() * 1e9));
    const sum = [{ hash: workloads.checksum(d), length: d.length }];
    out.push(engine.invoke(TARGET, d).then((o) => { assert.equal(workloads.readChecksums(o), sum, `${label} ${TARGET}`); stats.good++; }));
    out.push(engine.invoke('identity', d).then((o) => { assert.ok(bytesEqual(o, d), `${label} identity`); stats.good++; }));
    out.push(engine.invoke('good-checksum', d).then((o) => { assert.equal(workloads.readChecksums(o), sum, `${label} good-checksum`); stats.good++; }));
    out.push(engine.invoke('good-transform', d).then((o) => { assert.ok(bytesEqual(o, workloads.transform(d)), `${label} good-transform`); stats.good++; }));
  }
  return out;
}

for (let s = 0; s < SEEDS; s++) {
  const seed = SEED + s;
  test(`seed ${seed}: a hostile guest harms nobody outside its domain and nothing answers wrongly`, async () => {
    const rnd = prng(seed ^ 0x9e3779b9);
    const lone = hostileModule(seed, undefined);
    // In its own domain it shares a memory with shared-checksum-<seed>: its stores spare that module's static data.
    const member = hostileModule(seed + 0x5bd1e995, { below: 1024, above: 1 << 20 });
    await engine.deploy([
      { name: `hostile-${seed}`, module: lone.wasm, memoryMaxBytes: HOSTILE_MEMORY },
      { name: `hostile-shared-${seed}`, module: member.wasm, trusted: true, domain: `shared-${seed}` },
      { name: `shared-checksum-${seed}`, module: 'checksum', trusted: true, domain: `shared-${seed}` },
    ]);
    // Untrusted hostile invocations beside good ones in other domains, all at once.
    const hostile = Promise.allSettled(Array.from({ length: 3 }, () => engine.invoke(`hostile-${seed}`, workloads.produce(Math.floor(rnd() * 5000), seed))));
    const good = goodInvocations(rnd, `seed ${seed}`);
    const goodResults = await Promise.allSettled(good);
    goodResults.forEach((r, i) => assert.is(r.status, 'fulfilled', `good invocation #${i}: ${r.status === 'rejected' ? String(r.reason) : ''}`));
    (await hostile).forEach((r, i) => checkHostile(r, lone, `hostile #${i}`));
    // In its own domain, then its neighbour: the neighbour may fail (one fate), never answer wrongly.
    checkHostile((await Promise.allSettled([engine.invoke(`hostile-shared-${seed}`, new Uint8Array(16))]))[0]!, member, 'hostile-shared');
    for (let i = 0; i < 2; i++) {
      const d = workloads.produce(1000 + Math.floor(rnd() * 100_000), seed + i);
      try {
        assert.equal(workloads.readChecksums(await engine.invoke(`shared-checksum-${seed}`, d)), [{ hash: workloads.checksum(d), length: d.length }], 'shared-checksum');
      } catch (err) {
        if (!(err instanceof CwasiError)) throw err;
        stats.sameDomainFailed++;
      }
    }
    // Still serving; stats never throws.
    engine.stats();
    assert.ok(delay.max / 1e6 < STALL_BOUND_MS, `event loop stalled ${(delay.max / 1e6).toFixed(0)} ms`);
    stats.seeds++;
  });
}

test.run();
