// Only trusted functions of one trust domain share a memory. Asking for
// anything else is a typed error, `plan` explains every decision, and modules
// whose static data overlap are never put in one memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inspectModule } from '../engine/memory/inspect.js';
import { abiModule } from './helpers/wasm-builder.js';
import { USER_STATIC_BASE } from '../engine/memory/layout.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
});
test.after(async () => {
  await engine.close();
});

test('forcing embedded onto an untrusted edge is refused with the reason', async () => {
  const e = await rejectsWith(engine.deploy({
    name: 'bad1',
    functions: { a: { module: 'producer', trusted: true, domain: 'x' }, b: { module: 'checksum' } },
    edges: [{ from: 'a', to: 'b', mode: 'embedded' }],
  }), 'E_EMBED_REFUSED');
  assert.match(e.message, /b is not trusted/);
});

test('forcing embedded across trust domains is refused', async () => {
  await rejectsWith(engine.deploy({
    name: 'bad2',
    functions: { c: { module: 'producer', trusted: true, domain: 'x' }, d: { module: 'checksum', trusted: true, domain: 'y' } },
    edges: [{ from: 'c', to: 'd', mode: 'embedded' }],
  }), 'E_EMBED_REFUSED', /trust domains differ \(x vs y\)/);
});

test('plan explains each decision and the memory groups follow trust', async () => {
  await engine.deploy({
    name: 'mixed',
    functions: {
      p: { module: 'producer', trusted: true, domain: 'm' },
      t: { module: 'transform', trusted: true, domain: 'm' },
      u: { module: 'checksum' },
      o: { module: 'checksum', trusted: true, domain: 'other' },
    },
    edges: [{ from: 'p', to: 't' }, { from: 't', to: 'u' }, { from: 't', to: 'o' }],
    output: 'u',
  });
  const plan = engine.plan('mixed');
  const group = Object.fromEntries(plan.functions.map((f) => [f.name, f.group]));
  assert.is(group.p, group.t);
  assert.is.not(group.u, group.p);
  assert.is.not(group.o, group.p);
  const edge = (from: string, to: string) => plan.edges.find((e) => e.from === from && e.to === to)!;
  assert.is(edge('p', 't').mode, 'embedded');
  assert.is(edge('t', 'u').mode, 'local');
  assert.match(edge('t', 'u').reason, /u is not trusted/);
  assert.is(edge('t', 'o').mode, 'local');
  assert.match(edge('t', 'o').reason, /trust domains differ \(m vs other\)/);
});

test('two modules with overlapping static data are not embedded together', async () => {
  // A module that writes 4 bytes inside the bundled checksum's static data.
  const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL('../functions/checksum.wasm', import.meta.url))));
  const cs = inspectModule(bytes, new WebAssembly.Module(bytes)).staticRegion;
  const at = cs.start + 4;
  const overlapping = abiModule({ data: [{ offset: at, bytes: [1, 2, 3, 4] }] });
  await engine.deploy([{ name: 'cs', module: 'checksum', trusted: true, domain: 'ov' }]);
  const e = await rejectsWith(engine.deploy([{ name: 'intruder', module: overlapping, trusted: true, domain: 'ov' }]), 'E_EMBED_OVERLAP');
  assert.ok(e.message.includes(`intruder cannot share a memory with cs: static regions [${at}, ${at + 4}) and [${cs.start}, ${cs.end}) overlap`), e.message);
  // The hint names the tool that fixes it, with a base `cwasi build --base` accepts.
  assert.match(e.message, /build both in one `cwasi build`/);
  assert.match(e.message, new RegExp(`cwasi build --base ${USER_STATIC_BASE}\``));
  assert.is(e.details?.suggestedBase, USER_STATIC_BASE);
  // Untrusted, the same module gets a memory of its own and deploys fine.
  await engine.deploy([{ name: 'intruder', module: overlapping }]);
});

test('static data inside the memory header is refused', async () => {
  const low = abiModule({ data: [{ offset: 64, bytes: [9] }] });
  const e = await rejectsWith(engine.deploy([{ name: 'low', module: low, trusted: true, domain: 'low' }]), 'E_EMBED_OVERLAP', /inside the memory header/);
  assert.match(e.message, new RegExp(`build it with \`cwasi build\`, which places static data from ${USER_STATIC_BASE}`));
});

test('the same module twice in one group shares its read-only data', async () => {
  await engine.deploy([
    { name: 'twin1', module: 'checksum', trusted: true, domain: 'tw' },
    { name: 'twin2', module: 'checksum', trusted: true, domain: 'tw' },
  ]);
  assert.is(engine.plan('twin1').functions[0]!.group, engine.plan('twin2').functions[0]!.group);
});

test.run();
