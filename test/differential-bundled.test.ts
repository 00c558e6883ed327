// Every bundled function (asm-functions/functions/*.ts) gives, through the
// engine, by every route and under concurrency, exactly the bytes that the
// same source compiled by plain asc gives, and plain asc gives what the
// JavaScript mirrors (engine/workloads.ts) say. The cwasi side runs the
// bundled modules `node build.mjs` made (what `cwasi run` uses); scatter's
// callees are registered by name on both sides.
import * as workloads from '../engine/workloads.js';
import {
  compilePlain, differentialSuite, pick, randBytes, randInt,
  type FunctionSet, type GuestFailure, type GuestFunction,
} from './helpers/differential.js';

const source = (name: string): string => `asm-functions/functions/${name}.ts`;

async function bundled(name: string): Promise<GuestFunction> {
  return { name, plain: await compilePlain(source(name)), cwasi: name };
}

/** Bytes of a size that is mostly small, sometimes around the 4- and 16-byte blocks, now and then large. */
function someBytes(rnd: () => number): Uint8Array {
  const r = rnd();
  const size = r < 0.1 ? 0 : r < 0.4 ? randInt(rnd, 1, 33) : r < 0.95 ? randInt(rnd, 34, 5000) : randInt(rnd, 60_000, 70_000);
  return randBytes(rnd, size);
}

const WORDS = ['wasm', 'ring', 'x', 'yy', 'zzz', 'héllo', 'naïve', '中文', 'emoji😀', 'a-b', 'tab'];

function someText(rnd: () => number): Uint8Array {
  const n = randInt(rnd, 0, 400);
  let t = rnd() < 0.3 ? ' ' : '';
  for (let i = 0; i < n; i++) t += pick(rnd, WORDS) + pick(rnd, [' ', ' ', ' ', '\n', '\t', '  ', '\r\n']);
  return new TextEncoder().encode(t);
}

const single = (name: string) => async (): Promise<FunctionSet> => ({ fn: await bundled(name) });
const pure = <T>(f: (input: Uint8Array) => T) => () => f;

function checksumRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, workloads.checksum(data), true);
  dv.setUint32(4, data.length, true);
  return out;
}

function aggregateOf(inputs: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(16 + 8 * inputs.length);
  const dv = new DataView(out.buffer);
  let total = 0;
  inputs.forEach((x, i) => {
    dv.setUint32(16 + 8 * i, x.length, true);
    dv.setUint32(16 + 8 * i + 4, workloads.checksum(x), true);
    total += x.length;
  });
  dv.setUint32(0, inputs.length, true);
  dv.setUint32(4, total >>> 0, true);
  dv.setUint32(8, Math.floor(total / 2 ** 32), true);
  dv.setUint32(12, workloads.checksum(out.subarray(16)), true);
  return out;
}

differentialSuite('aggregate', {
  functions: single('aggregate'),
  input: someBytes,
  reference: pure((x) => aggregateOf([x])),
});

differentialSuite('checksum', {
  functions: single('checksum'),
  input: someBytes,
  reference: pure(checksumRecord),
});

differentialSuite('identity', {
  functions: single('identity'),
  input: someBytes,
  reference: pure((x) => x.slice()),
});

differentialSuite('producer', {
  functions: single('producer'),
  input: (rnd) => {
    // One spec in ten is short: both sides must fail alike.
    if (rnd() < 0.1) return randBytes(rnd, randInt(rnd, 0, 7));
    return workloads.producerSpec(rnd() < 0.9 ? randInt(rnd, 0, 5000) : randInt(rnd, 60_000, 200_000), Math.floor(rnd() * 2 ** 32));
  },
  reference: pure((spec): Uint8Array | GuestFailure => {
    if (spec.length < 8) return { fail: 1, message: 'producer expects 8 bytes: u32 length, u32 seed' };
    const dv = new DataView(spec.buffer, spec.byteOffset, spec.length);
    return workloads.produce(dv.getUint32(0, true), dv.getUint32(4, true));
  }),
});

// wordcount's mirror decodes UTF-8 as JavaScript does; produced bytes are not text, so it is no callee here.
const CALLEES = ['checksum', 'transform', 'identity'] as const;
const mirrors: Record<string, (x: Uint8Array) => Uint8Array> = {
  checksum: checksumRecord,
  transform: workloads.transform,
  identity: (x) => x.slice(),
};
const calleeFunctions = (): Promise<GuestFunction[]> => Promise.all(CALLEES.map(bundled));

differentialSuite('scatter', {
  functions: async () => ({ fn: await bundled('scatter'), callees: await calleeFunctions() }),
  input: (rnd) => workloads.scatterSpec(randInt(rnd, 0, 20_000), Math.floor(rnd() * 2 ** 32), randInt(rnd, 1, 4), pick(rnd, CALLEES)),
  reference: pure((spec) => {
    const dv = new DataView(spec.buffer, spec.byteOffset, spec.length);
    const [length, seed, n] = [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)];
    const one = mirrors[new TextDecoder().decode(spec.subarray(12))]!(workloads.produce(length, seed));
    return Buffer.concat(Array.from({ length: n }, () => one));
  }),
});

// A call to a name nobody deployed: call_wait says -1 (unknown function,
// ABI.md) and scatter fails with code 3 naming that status, on every route.
// Its own suite, so that a difference here is not taken for one in the data paths above.
differentialSuite('scatter to an unknown function', {
  functions: async () => ({ fn: await bundled('scatter'), callees: await calleeFunctions() }),
  input: (rnd) => workloads.scatterSpec(randInt(rnd, 0, 2000), Math.floor(rnd() * 2 ** 32), randInt(rnd, 1, 3), rnd() < 0.5 ? 'nobody-deployed-this' : 'checksum'),
  reference: pure((spec): Uint8Array | GuestFailure => {
    const dv = new DataView(spec.buffer, spec.byteOffset, spec.length);
    const [length, seed, n] = [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)];
    const target = new TextDecoder().decode(spec.subarray(12));
    if (target !== 'checksum') return { fail: 3, message: `call to ${target} failed with status -1` };
    const one = checksumRecord(workloads.produce(length, seed));
    return Buffer.concat(Array.from({ length: n }, () => one));
  }),
  sequenceCalls: 50,
});

differentialSuite('transform', {
  functions: single('transform'),
  input: someBytes,
  reference: pure(workloads.transform),
});

differentialSuite('wordcount', {
  functions: single('wordcount'),
  input: someText,
  reference: pure((x) => new TextEncoder().encode(workloads.wordcount(new TextDecoder().decode(x)))),
});
