// as-variant (MaxGraey's tagged-union box for AssemblyScript, whose managed
// contents are traced by its own __visit): a guest that parses records into
// Variants in Maps, Sets and Arrays and keeps a store of them across calls
// (test/fixtures/libs/as-variant.ts) gives, through the engine, by every
// route, in long sequences on one instance and under concurrency, exactly the
// bytes plain asc gives; plain asc's bytes equal the same merging done in JavaScript.
import { SOURCE } from './fixtures/libs/as-variant.js';
import {
  compileCwasi, compilePlain, differentialSuite, framed, pick, randInt, writeGuestSource, HISTORY_FLAG,
} from './helpers/differential.js';

const KEYS = ['a', 'b', 'count', 'name', 'tags', 'flag', 'zé', '中', 'k9', 'long_key_name', 'A', 'b2', 'x', 'y', 'z', 'ü', 'id', 'ok', 'n', 'q'];
// No empty strings: as-variant 0.4.1's get<string>() tests the value's truthiness
// where it means null, and throws "unexpected null" for "" (plain asc too).
const ATOMS = ['red', 'green', 'blue', 'é', '中文', 'a b', 'x=y', 'z:1'];
type Value = { t: 'i'; v: bigint } | { t: 'f'; v: number } | { t: 's'; v: string } | { t: 'l'; v: string[] } | { t: 'b'; v: boolean };

function record(rnd: () => number): string {
  const key = pick(rnd, KEYS);
  switch (pick(rnd, ['i', 'f', 's', 'l', 'b'] as const)) {
    case 'i': return `${key}=i:${randInt(rnd, -1_000_000_000, 1_000_000_000) * (rnd() < 0.2 ? 1000 : 1)}`;
    // Eighths: exact in binary, so sums print the same wherever they are made.
    case 'f': return `${key}=f:${randInt(rnd, -80_000, 80_000) / 8}`;
    case 's': return `${key}=s:${pick(rnd, ATOMS)}${pick(rnd, ATOMS)}`;
    case 'l': return `${key}=l:${Array.from({ length: randInt(rnd, 0, 5) }, () => pick(rnd, ATOMS)).join(',')}`;
    case 'b': return `${key}=b:${rnd() < 0.5 ? 1 : 0}`;
  }
}

function records(rnd: () => number): string {
  const n = randInt(rnd, 0, rnd() < 0.1 ? 600 : 30);
  const lines = Array.from({ length: n }, () => (rnd() < 0.05 ? pick(rnd, ['', 'junk', '=i:1', 'k=']) : record(rnd)));
  return lines.join('\n');
}

/** f64 as AssemblyScript prints it: whole numbers keep ".0" (values here stay far from exponent notation). */
function f64Text(x: number): string {
  return Number.isInteger(x) ? `${x.toFixed(0)}.0` : String(x);
}

function render(v: Value): string {
  switch (v.t) {
    case 'i': return String(v.v);
    case 'f': return f64Text(v.v);
    case 's': return v.v;
    case 'b': return String(v.v);
    case 'l': return `[${v.v.join(',')}]#${new Set(v.v).size}`;
  }
}

function merge(old: Value, v: Value): Value {
  if (old.t === 'i' && v.t === 'i') return { t: 'i', v: BigInt.asIntN(64, old.v + v.v) };
  if (old.t === 'f' && v.t === 'f') return { t: 'f', v: old.v + v.v };
  if (old.t === 's' && v.t === 's') return { t: 's', v: `${old.v}+${v.v}` };
  if (old.t === 'l' && v.t === 'l') return { t: 'l', v: [...old.v, ...v.v] };
  if (old.t === 'b' && v.t === 'b') return { t: 'b', v: old.v !== v.v };
  return v;
}

function parse(kind: string, text: string): Value {
  switch (kind) {
    case 'i': return { t: 'i', v: BigInt(text) };
    case 'f': return { t: 'f', v: Number(text) };
    case 'l': return { t: 'l', v: text.split(',') };
    case 'b': return { t: 'b', v: text === '1' };
    default: return { t: 's', v: text };
  }
}

function reference(): (input: Uint8Array) => Uint8Array {
  const store = new Map<string, Value>();
  let total = 0;
  return (input) => {
    const history = (input[0]! & HISTORY_FLAG) !== 0;
    const map = history ? store : new Map<string, Value>();
    const seen = new Set<string>();
    for (const line of new TextDecoder().decode(input.subarray(1)).split('\n')) {
      const eq = line.indexOf('=');
      if (eq <= 0 || line.length < eq + 3) continue;
      const key = line.slice(0, eq);
      const v = parse(line.charAt(eq + 1), line.slice(eq + 3));
      const old = map.get(key);
      map.set(key, old === undefined ? v : merge(old, v));
      seen.add(key);
      total++;
    }
    const counts = [0, 0, 0, 0, 0];
    let out = '';
    for (const key of [...seen].sort()) {
      const v = map.get(key)!;
      out += `${key}=${render(v)}\n`;
      counts['ifslb'.indexOf(v.t)]!++;
    }
    out += `types ifslb: ${counts.join(' ')}\n`;
    if (history) out += `store ${store.size} records ${total}\n`;
    return new TextEncoder().encode(out);
  };
}

differentialSuite('as-variant', {
  functions: async () => {
    const path = writeGuestSource('as-variant', SOURCE);
    const plain = await compilePlain(path);
    const cwasi = await compileCwasi(path);
    return { fn: { name: 'as-variant', plain, cwasi } };
  },
  input: (rnd, _i, history) => framed(history, new TextEncoder().encode(records(rnd))),
  reference,
  stateful: true,
});
