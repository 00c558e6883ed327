// Regression: a step that returns its input in place (identity) has its
// output inside the arena its input was received into. That arena was freed
// when the step finished, while the output was still being streamed on (on
// the node that ran it) or read by the next step (on the coordinator), so
// 16 concurrent invocations with inputs over 64 KiB came back with another
// invocation's bytes or a heap block header in them, as success. Now a
// received input lives as long as the output derived from it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { NATS_URL, SEED, prng } from './helpers/env.js';

let harness: Harness;
let engine: Engine;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'left', host: '127.0.0.2' }, { name: 'right', host: '127.0.0.3' }], threads: 1 });
  engine = await Engine.create({
    threads: 2, timeoutMs: 30_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
  });
  await engine.deploy({
    name: 'remote-identity',
    functions: { src: { module: 'identity', host: 'left' }, sink: { module: 'identity', trusted: true, domain: 'd' } },
    edges: [{ from: 'src', to: 'sink' }],
    output: 'sink',
  });
  await engine.deploy({
    name: 'through-here',
    functions: { a: { module: 'transform', host: 'left' }, mid: { module: 'identity', trusted: true, domain: 'd' }, b: { module: 'transform', host: 'right' } },
    edges: [{ from: 'a', to: 'mid' }, { from: 'mid', to: 'b' }],
    output: 'b',
  });
});

test.after(async () => {
  await engine?.close();
  await harness?.close();
});

/** 16 inputs of 1 KB to 140 KB, seeded. */
function inputs(round: number): Uint8Array[] {
  const rnd = prng(SEED ^ (round * 0x9e37));
  return Array.from({ length: 16 }, () => {
    const b = new Uint8Array(1000 + Math.floor(rnd() * 139_000));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
    return b;
  });
}

async function allRight(workflow: string, rounds: number): Promise<void> {
  let wrong = 0;
  for (let r = 0; r < rounds; r++) {
    const xs = inputs(r);
    const outs = await Promise.all(xs.map((x) => engine.invokeWithReport(workflow, x)));
    outs.forEach((o, i) => {
      assert.ok(o.edges.every((e) => e.mode === 'networked'), `${workflow}: edges ${o.edges.map((e) => e.mode).join(', ')}`);
      if (Buffer.compare(Buffer.from(o.output), Buffer.from(xs[i]!)) !== 0) wrong++;
    });
  }
  assert.is(wrong, 0, `${workflow}: wrong outputs of ${rounds * 16}`);
}

test('an identity on another node streams its input on in place: 16 concurrent, all right', async () => {
  await allRight('remote-identity', 12);
});

test('an identity here between two nodes forwards what it received in place: 16 concurrent, all right', async () => {
  // transform inverts every bit, twice: the output equals the input.
  await allRight('through-here', 8);
});

test.run();
