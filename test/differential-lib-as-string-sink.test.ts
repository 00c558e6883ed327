// as-string-sink (MaxGraey's string builder for AssemblyScript): a guest that
// rewrites text line by line into a StringSink it reuses across calls and
// keeps a journal sink that grows across calls (test/fixtures/libs/as-string-sink.ts)
// gives, through the engine, by every route, in long sequences on one
// instance and under concurrency, exactly the bytes plain asc gives; plain
// asc's bytes equal the same rewriting done in JavaScript.
import { SOURCE } from './fixtures/libs/as-string-sink.js';
import {
  compileCwasi, compilePlain, differentialSuite, framed, pick, randInt, writeGuestSource, HISTORY_FLAG,
} from './helpers/differential.js';

const WORDS = ['a', 'wasm', 'ring', 'Arena', 'héllo', 'ÉTÉ', 'straße', 'жук', '中文', '😀ok', 'x😀', 'ǆemal', 'ﬁne', 'tab\there', 'cr\r', '-', '42', 'ȿ'];

function text(rnd: () => number): string {
  const lines = randInt(rnd, 0, rnd() < 0.1 ? 400 : 30);
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    let line = rnd() < 0.2 ? ' ' : '';
    for (let w = randInt(rnd, 0, rnd() < 0.05 ? 2000 : 12); w > 0; w--) line += pick(rnd, WORDS) + (rnd() < 0.2 ? '  ' : ' ');
    out.push(line);
  }
  return out.join('\n');
}

function reference(): (input: Uint8Array) => Uint8Array {
  const journal: string[] = [];
  let calls = 0;
  return (input) => {
    const history = (input[0]! & HISTORY_FLAG) !== 0;
    const t = new TextDecoder().decode(input.subarray(1));
    const lines = t.split('\n');
    let out = '';
    lines.forEach((line, l) => {
      const words = line.split(' ').filter((w) => w.length > 0);
      out += `${l}:${words.length}:${[...words].reverse().join(' ')} | `;
      for (const w of words) out += String.fromCodePoint(w.codePointAt(0)!) + String([...w].length);
      out += ` | ${line.toUpperCase()}\n`;
    });
    calls++;
    const first = t.split(' ')[0]!;
    const nl = first.indexOf('\n');
    journal.push(`${calls}:${lines.length}:${first.slice(0, Math.min(nl >= 0 ? nl : first.length, 12))}\n`);
    if (history) out += `--\n${journal.join('')}`;
    return new TextEncoder().encode(out);
  };
}

differentialSuite('as-string-sink', {
  functions: async () => {
    const path = writeGuestSource('as-string-sink', SOURCE);
    const plain = await compilePlain(path);
    const cwasi = await compileCwasi(path);
    return { fn: { name: 'as-string-sink', plain, cwasi } };
  },
  input: (rnd, _i, history) => framed(history, new TextEncoder().encode(text(rnd))),
  reference,
  stateful: true,
});
