// A guest call goes over the same channel as a workflow edge of its mode,
// with the engine's configured options: in remote-kv mode the payload is
// written under the engine's key prefix, in chunks of the configured size,
// with the configured TTL (seen on a Redis MONITOR connection), and deleted
// once the callee finished. Every other mode carries the call too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { REDIS_URL } from './helpers/env.js';
import { type MonitorConnection, openMonitor } from './helpers/redis-monitor.js';

const LEN = 10_000;
const CHUNK = 4096;
const TTL = 77;

let engine: Engine;
let monitor: MonitorConnection | undefined;
let client: Redis | undefined;
const seen: string[][] = [];
const sentinels = new Map<string, () => void>();

test.before(async () => {
  engine = await Engine.create({ threads: { min: 2, max: 4 }, redis: { url: REDIS_URL, ttlSeconds: TTL, chunkBytes: CHUNK } });
  await engine.deploy([
    { name: 'scatter', module: 'scatter', trusted: true, domain: 'calls' },
    { name: 'checksum', module: 'checksum', trusted: true, domain: 'calls' },
  ]);
  monitor = await openMonitor(REDIS_URL, (args) => {
    if (args[0]?.toLowerCase() === 'echo' && sentinels.has(args[1]!)) sentinels.get(args[1]!)!();
    else if (args[1]?.startsWith(`cwasi:${process.pid}:`)) seen.push(args);
  });
  client = new Redis(REDIS_URL);
});
test.after(async () => {
  monitor?.close();
  client?.disconnect();
  await engine?.close();
});

/** Resolve once the MONITOR stream has shown every command sent before this. */
async function monitorCaughtUp(): Promise<void> {
  const token = `sentinel-${process.pid}-${sentinels.size}`;
  const reached = new Promise<void>((resolve) => sentinels.set(token, resolve));
  await client!.echo(token);
  await reached;
}

function expectRecords(out: Uint8Array, n: number, seed: number): void {
  const hash = workloads.checksum(workloads.produce(LEN, seed));
  assert.equal(workloads.readChecksums(out), Array.from({ length: n }, () => ({ hash, length: LEN })));
}

test('a remote-kv guest call uses the configured key prefix, chunk size and TTL, and deletes its keys', async () => {
  seen.length = 0;
  const before = engine.stats().edgesByMode['remote-kv'];
  expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 11, 2, 'checksum'), { guestCallMode: 'remote-kv' }), 2, 11);
  assert.is(engine.stats().edgesByMode['remote-kv'] - before, 2);
  await monitorCaughtUp();
  const sets = seen.filter((a) => a[0]!.toLowerCase() === 'set' && a[1]!.includes(':call:'));
  // Two calls, each LEN bytes in ceil(LEN / CHUNK) chunks.
  assert.is(sets.length, 2 * Math.ceil(LEN / CHUNK), `SETs seen: ${sets.map((a) => a[1]).join(', ')}`);
  for (const a of sets) {
    // (MONITOR escapes the value's bytes, so its size shows in the chunk count, not here.)
    assert.match(a[1]!, /:call:.*:[0-2]$/);
    assert.is(a[3]!.toLowerCase(), 'ex');
    assert.is(Number(a[4]), TTL);
  }
  const keys = sets.map((a) => a[1]!);
  assert.is(await client!.exists(...keys), 0, 'the payload keys are deleted once the callee finished');
});

test('every mode that carries guest calls does, with the same result', async () => {
  for (const mode of ['embedded', 'local', 'copy', 'remote-kv'] as const) {
    const before = engine.stats().edgesByMode[mode];
    expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 12, 3, 'checksum'), { guestCallMode: mode }), 3, 12);
    // An embedded callee runs inline in the caller's worker: no call reaches the dispatcher.
    assert.is(engine.stats().edgesByMode[mode] - before, mode === 'embedded' ? 0 : 3, mode);
  }
});

test.run();
