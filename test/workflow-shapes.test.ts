// Workflows of every shape run end to end with checked outputs: sequential
// chains, fan-out (1→N), fan-in (N→1) and a diamond DAG, across the modes
// selection picks and the ones an override forces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { REDIS_URL } from './helpers/env.js';

let engine: Engine;
const SIZE = 300_000 + 13;
const spec = workloads.producerSpec(SIZE, 42);
const data = workloads.produce(SIZE, 42);
const inverted = workloads.transform(data);

test.before(async () => {
  engine = await Engine.create({ threads: 2, redis: { url: REDIS_URL } });
});
test.after(async () => {
  await engine.close();
});

test('sequential chain producer → transform → checksum, in every co-located mode', async () => {
  const doc: WorkflowDocument = {
    name: 'seq',
    functions: {
      producer: { module: 'producer', trusted: true, domain: 's' },
      transform: { module: 'transform', trusted: true, domain: 's' },
      checksum: { module: 'checksum', trusted: true, domain: 's' },
    },
    edges: [{ from: 'producer', to: 'transform' }, { from: 'transform', to: 'checksum' }],
  };
  const deployed = await engine.deploy(doc);
  assert.equal(deployed.workflow!.segments, [['producer', 'transform', 'checksum']], 'embedded edges run in one task');
  for (const mode of [undefined, 'local', 'copy', 'remote-kv'] as const) {
    const r = await engine.invokeWithReport('seq', spec, mode ? { modes: { '*': mode } } : {});
    assert.equal(workloads.readChecksums(r.output), [{ hash: workloads.checksum(inverted), length: SIZE }], `mode ${mode ?? 'selected'}`);
    assert.equal(r.edges.map((e) => e.mode), mode ? [mode, mode] : ['embedded', 'embedded']);
  }
});

test('fan-out 1 → 8 reaches every consumer with the same bytes (embedded and local mixed)', async () => {
  const functions: WorkflowDocument['functions'] = { p: { module: 'producer', trusted: true, domain: 'fo' } };
  const edges = [];
  for (let i = 0; i < 8; i++) {
    functions[`c${i}`] = i % 2 === 0 ? { module: 'checksum', trusted: true, domain: 'fo' } : { module: 'checksum' };
    edges.push({ from: 'p', to: `c${i}` });
  }
  await engine.deploy({ name: 'fan-out-8', functions, edges, output: 'c0' });
  const r = await engine.invokeWithReport('fan-out-8', spec);
  assert.is(Object.keys(r.outputs).length, 8);
  for (const out of Object.values(r.outputs)) assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(data), length: SIZE }]);
  const modes = new Set(r.edges.map((e) => e.mode));
  assert.ok(modes.has('embedded') && modes.has('local'), `modes used: ${[...modes].join(',')}`);
});

test('fan-in 3 → 1 gives the consumer one input per edge, in edge order', async () => {
  await engine.deploy({
    name: 'fan-in-3',
    functions: {
      a: { module: 'producer', trusted: true, domain: 'fi' },
      b: { module: 'identity' },
      c: { module: 'transform', trusted: true, domain: 'other' },
      agg: { module: 'aggregate', trusted: true, domain: 'fi' },
    },
    edges: [{ from: 'b', to: 'agg' }, { from: 'a', to: 'agg' }, { from: 'c', to: 'agg' }],
  });
  const agg = workloads.readAggregate(await engine.invoke('fan-in-3', spec));
  assert.is(agg.count, 3);
  assert.equal(agg.inputs, [
    { length: spec.length, hash: workloads.checksum(spec) },
    { length: SIZE, hash: workloads.checksum(data) },
    { length: spec.length, hash: workloads.checksum(workloads.transform(spec)) },
  ]);
  assert.is(agg.totalLength, SIZE + 2 * spec.length);
});

test('a diamond DAG: producer → (transform, identity) → aggregate', async () => {
  await engine.deploy({
    name: 'diamond',
    functions: {
      src: { module: 'producer' },
      left: { module: 'transform', trusted: true, domain: 'dia' },
      right: { module: 'identity', trusted: true, domain: 'dia' },
      join: { module: 'aggregate', trusted: true, domain: 'dia' },
    },
    edges: [
      { from: 'src', to: 'left' }, { from: 'src', to: 'right' },
      { from: 'left', to: 'join' }, { from: 'right', to: 'join' },
    ],
  });
  for (const mode of [undefined, 'copy'] as const) {
    const agg = workloads.readAggregate(await engine.invoke('diamond', spec, mode ? { modes: { '*': mode } } : {}));
    assert.equal(agg.inputs, [{ length: SIZE, hash: workloads.checksum(inverted) }, { length: SIZE, hash: workloads.checksum(data) }]);
  }
});

test('concurrent invocations of one workflow do not mix their data', async () => {
  const seeds = Array.from({ length: 24 }, (_, i) => i + 1);
  const outs = await Promise.all(seeds.map((s) => engine.invoke('seq', workloads.producerSpec(50_000 + s, s))));
  outs.forEach((o, i) => {
    const d = workloads.transform(workloads.produce(50_000 + seeds[i]!, seeds[i]!));
    assert.equal(workloads.readChecksums(o), [{ hash: workloads.checksum(d), length: d.length }]);
  });
});

test('memory is returned after every shape ran', async () => {
  for (const m of engine.stats().memory) {
    const held = m.bytesInUse - m.cachedBytes - m.instanceBytes;
    assert.is(held, 0, `${m.id} still holds ${held} bytes`);
  }
});

test.run();
