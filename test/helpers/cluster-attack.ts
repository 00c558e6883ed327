// Shared by the attack tests (cluster-attack-*.test.ts): a two-node workflow
// (a producer on node "b", a checksum on the coordinator) and a bounded run of
// invocations whose every output is checked against the JavaScript checksum.
import { randomBytes } from 'node:crypto';
import { Engine, type ClusterOptions, type EngineOptions } from '../../engine/index.js';
import * as workloads from '../../engine/workloads.js';
import { NATS_URL } from './env.js';

export const PAYLOAD = 64 * 1024;

export interface Pair {
  cluster: string;
  secret: Uint8Array;
  b: Engine;
  coord: Engine;
}

export function newCluster(prefix: string): { cluster: string; secret: Uint8Array } {
  return { cluster: `${prefix}${randomBytes(4).toString('hex')}`, secret: randomBytes(24) };
}

export function node(cluster: string, secret: Uint8Array, name: string, extra: Partial<EngineOptions> = {}, listen?: string, preAuth?: ClusterOptions['preAuth']): Promise<Engine> {
  return Engine.create({
    threads: 1, timeoutMs: 20_000, ...extra,
    cluster: { nats: NATS_URL, cluster, name, secret, heartbeatMs: 500, ...(listen ? { listen } : {}), ...(preAuth ? { preAuth } : {}) },
  });
}

/** Deploy the workflow "flow": p (producer) on node b → k (checksum) where `coord` runs. */
export async function deployFlow(coord: Engine): Promise<void> {
  await coord.deploy({
    name: 'flow',
    functions: { p: { module: 'producer', host: 'b' }, k: { module: 'checksum' } },
    edges: [{ from: 'p', to: 'k' }],
  });
}

export interface RunTally {
  ok: number;
  wrong: number;
  failed: Map<string, number>;
  total: number;
}

/** Up to `count` invocations of "flow" within `ms`, one after another; every output checked. */
export async function runFlow(coord: Engine, count: number, ms: number): Promise<RunTally> {
  const tally: RunTally = { ok: 0, wrong: 0, failed: new Map(), total: 0 };
  const until = Date.now() + ms;
  for (let i = 0; i < count && Date.now() < until; i++) {
    tally.total++;
    try {
      const out = await coord.invoke('flow', workloads.producerSpec(PAYLOAD, i));
      const want = workloads.checksum(workloads.produce(PAYLOAD, i));
      const got = workloads.readChecksums(out);
      if (got.length === 1 && got[0]!.hash === want && got[0]!.length === PAYLOAD) tally.ok++;
      else tally.wrong++;
    } catch (err) {
      const key = `${(err as { code?: string }).code ?? 'ERR'}: ${(err as Error).message.slice(0, 120)}`;
      tally.failed.set(key, (tally.failed.get(key) ?? 0) + 1);
    }
  }
  return tally;
}

export function describe(t: RunTally): string {
  return `${t.ok}/${t.total} right, ${t.wrong} wrong, failures: ${JSON.stringify([...t.failed])}`;
}

/**
 * Close `old` (node `name`), start it again and run `coord`'s workflow on it
 * (the first invocation redeploys there): the milliseconds from the restart
 * to the first right result, and the tally of a few invocations.
 */
export async function restartServes(cluster: string, secret: Uint8Array, old: Engine, name: string, coord: Engine): Promise<{ engine: Engine; ms: number; tally: RunTally }> {
  await old.close();
  const t0 = Date.now();
  const engine = await node(cluster, secret, name);
  const tally = await runFlow(coord, 5, 10_000);
  return { engine, ms: Date.now() - t0, tally };
}

/** What `start()` resolves with, and the milliseconds it took. */
export async function timed<T>(start: () => Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await start();
  return [v, Date.now() - t0];
}
