// Streaming functions sit anywhere in a workflow beside whole-payload ones,
// in every co-located mode: a whole-payload transform between a streaming
// producer side and a streaming checksum, and streaming stages on both sides
// of whole-payload ones, embedded, local, copy and remote-kv (Redis), each
// output checked against plain JS; fan-in reads the inputs one after the
// other as one stream; a streaming function answers guest calls too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { REDIS_URL, SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;
const SIZE = 300_000 + 13;

test.before(async () => {
  engine = await Engine.create({ threads: 2, redis: { url: REDIS_URL } });
});
test.after(async () => {
  await closeEngine(engine);
});

function chain(name: string, modules: string[], trusted: boolean): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => (functions[`${name}-${i}`] = trusted ? { module: m, trusted: true, domain: name } : { module: m }));
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

const SHAPES = [
  ['producer', 'stream-transform', 'transform', 'stream-checksum'],
  ['producer', 'transform', 'stream-transform', 'checksum'],
  ['producer', 'stream-transform', 'stream-transform', 'stream-checksum'],
];

for (const [k, modules] of SHAPES.entries()) {
  test(`${modules.join(' → ')}: every mode gives the checksum plain JS gives`, async () => {
    const spec = workloads.producerSpec(SIZE, SEED + k);
    const inverts = modules.filter((m) => m.endsWith('transform')).length;
    let data = workloads.produce(SIZE, SEED + k);
    for (let i = 0; i < inverts; i++) data = workloads.transform(data);
    const expected = [{ hash: workloads.checksum(data), length: SIZE }];
    for (const trusted of [true, false]) {
      const name = `shape${k}-${trusted ? 't' : 'u'}`;
      await engine.deploy(chain(name, modules, trusted));
      const modes = trusted ? [undefined, 'local', 'copy', 'remote-kv'] as const : [undefined, 'copy', 'remote-kv'] as const;
      for (const mode of modes) {
        const r = await engine.invokeWithReport(name, spec, mode ? { modes: { '*': mode } } : {});
        const what = `${name}, mode ${mode ?? 'selected'} (${r.edges.map((e) => e.mode).join(', ')})`;
        assert.equal(workloads.readChecksums(r.output), expected, what);
        if (mode !== undefined) assert.ok(r.edges.every((e) => e.mode === mode), what);
      }
      // The lean path (lanes where the plan allows): the same bytes.
      assert.equal(workloads.readChecksums(await engine.invoke(name, spec)), expected, `${name} by invoke`);
    }
  });
}

test('a streaming function called from inside another (guest calls), embedded and by the dispatcher', async () => {
  await engine.deploy([
    { name: 'scatter-s', module: 'scatter', trusted: true, domain: 'guest-s' },
    { name: 'stream-checksum-in', module: 'stream-checksum', trusted: true, domain: 'guest-s' },
    { name: 'stream-checksum-out', module: 'stream-checksum' },
  ]);
  const size = 100_003;
  const record = workloads.streamedChecksum(size, SEED, 0);
  for (const target of ['stream-checksum-in', 'stream-checksum-out']) {
    const out = await engine.invoke('scatter-s', workloads.scatterSpec(size, SEED, 3, target));
    assert.equal(workloads.readChecksums(out), [record, record, record], target);
  }
});

test('fan-in: a streaming consumer reads its inputs one after the other', async () => {
  await engine.deploy({
    name: 'stream-fan-in',
    functions: { 'fan-a': { module: 'producer' }, 'fan-b': { module: 'producer' }, 'fan-t': { module: 'stream-transform' } },
    edges: [{ from: 'fan-a', to: 'fan-t' }, { from: 'fan-b', to: 'fan-t' }],
  });
  const spec = workloads.producerSpec(70_001, SEED);
  const part = workloads.produce(70_001, SEED);
  const both = new Uint8Array(2 * part.length);
  both.set(part, 0);
  both.set(part, part.length);
  const r = await engine.invokeWithReport('stream-fan-in', spec);
  assert.equal(r.output, workloads.transform(both));
});

test.run();
