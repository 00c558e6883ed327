// `cwasi bench networked`: payloads between functions on two engine nodes.
// Two `cwasi node` processes host a producer and a consumer (checksum); this
// process coordinates through NATS. They run on 127.0.0.2 and 127.0.0.3 of
// this host, or with `--netns` in two network namespaces joined by veth pairs
// on a bridge, Redis in a third (netns.ts draws it; `--link RATE` shapes
// every link with tc tbf). networked-sites.ts says where each end runs.
//   networked   the producer's node streams its memory straight to the
//               consumer's node over the authenticated TCP Networked Buffer
//   remote-kv   the same pair forced through the real Redis (SET, then GET)
//   raw-tcp     plain node:net on loopback in this process, reading with
//               onread into a reused buffer (both ends in one thread; also
//               on loopback with --netns)
//   raw-tcp-2proc  plain node:net with the two ends in two processes, as the
//               engine rows have them: a sender process where the producer's
//               node is writes one preallocated buffer, a receiver where the
//               consumer's node is reads it into a reused 4 MiB buffer
//               (net-ref.ts): the line-rate reference Node reaches
//   iperf3      iperf3 itself between the same two places for 3 s, when
//               installed (the report says when it is not): the TCP
//               ceiling; its row's latency is the payload ÷ iperf3's rate
//   transport   the Networked Buffer transport alone, in this process
//               (loopback)
// Latency is the paper's: producer returned → consumer has every byte.
// Goals (networked-goals.ts): networked ≥ 80% of raw-tcp and ≥ 90% of
// raw-tcp-2proc (and of iperf3 where measured) throughput at the largest
// size, ≥ 90% of the link rate with --link; networked ≥ 3× remote-kv at the
// smallest.

import { Engine } from 'cwasi';
import { startCluster } from './cluster-harness.js';
import { type BenchOptions, type BenchReport, type BenchResult, meta, progress, round, row } from './common.js';
import { measureRawTcp, measureTransport } from './net-raw.js';
import { networkedGoals } from './networked-goals.js';
import { CONSUMER_NODE, PRODUCER_NODE, loopbackSites, netnsSites, type Sites } from './networked-sites.js';
import { measureIperf3, measureRawTcpProcesses, type Iperf3Result } from './net-ref.js';
import { countFor, measurePair } from './transfer.js';

const MiB = 1 << 20;
/** How long iperf3 streams (its own bound; the bench kills it 10 s later). */
const IPERF3_SECONDS = 3;

export async function networked(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [2 * MiB, 100 * MiB];
  const wanted = (m: string) => opts.modes === undefined || opts.modes.includes(m);
  const total = sizes.reduce((n, s) => n + countFor(s, opts.quick, opts.executions) * 6, 0);
  const results: BenchResult[] = [];
  // Made before anything is measured: without namespaces, --netns fails here (E_NETNS_UNAVAILABLE).
  let stopBar = () => {};
  const sites: Sites = opts.netns === true ? await netnsSites(opts.link, () => stopBar()) : loopbackSites();
  if (sites.opened !== undefined) opts.log(sites.opened);
  let harness: Awaited<ReturnType<typeof startCluster>> | undefined;
  let engine: Engine | undefined;
  let iperf3: Iperf3Result | undefined;
  const bar = progress(opts.progress, total, 'networked');
  stopBar = () => bar.stop();
  try {
    harness = await startCluster({ ...sites.harness, threads: opts.threads ?? 2 });
    if (wanted('iperf3')) {
      bar.tick(0, 'iperf3');
      iperf3 = await measureIperf3(IPERF3_SECONDS, sites.ends);
      if (iperf3.ok) {
        const big = Math.max(...sizes);
        results.push(row('networked', 'iperf3', big, [big / (iperf3.gbPerSec * 1e9) * 1000], {
          metric: 'stream rate', iperf3: { version: iperf3.version, seconds: iperf3.seconds, bytes: iperf3.bytes, gbPerSec: round(iperf3.gbPerSec, 3) },
        }));
      }
    }
    engine = await Engine.create({
      threads: 1, timeoutMs: 120_000,
      cluster: {
        nats: harness.nats, cluster: harness.cluster, name: 'bench-coordinator', secretFile: harness.secretFile,
        ...(sites.coordinatorListen !== undefined ? { listen: sites.coordinatorListen } : {}),
      },
      ...(sites.redisUrl !== undefined ? { redis: { url: sites.redisUrl } } : {}),
    });
    await engine.deploy({
      name: 'net',
      functions: { 'net-producer': { module: 'producer', host: PRODUCER_NODE }, 'net-consumer': { module: 'checksum', host: CONSUMER_NODE } },
      edges: [{ from: 'net-producer', to: 'net-consumer' }],
    });
    for (const bytes of sizes) {
      const n = countFor(bytes, opts.quick, opts.executions);
      const tick = (what: string) => () => bar.tick(1, `${what} ${bytes >> 20} MiB`);
      if (wanted('raw-tcp')) {
        results.push(row('networked', 'raw-tcp', bytes, await measureRawTcp(bytes, n), { metric: 'transfer' }));
        bar.tick(n, `raw-tcp ${bytes >> 20} MiB`);
      }
      if (wanted('raw-tcp-2proc')) {
        results.push(row('networked', 'raw-tcp-2proc', bytes, await measureRawTcpProcesses(bytes, n, undefined, undefined, sites.ends), { metric: 'transfer' }));
        bar.tick(n, `raw-tcp-2proc ${bytes >> 20} MiB`);
      }
      if (wanted('raw-tcp-2proc-kept')) {
        // The same, the receiver keeping the payload (each byte at its offset in a payload-sized buffer), as a node must.
        results.push(row('networked', 'raw-tcp-2proc-kept', bytes, await measureRawTcpProcesses(bytes, n, undefined, undefined, sites.ends, true), { metric: 'transfer' }));
        bar.tick(n, `raw-tcp-2proc-kept ${bytes >> 20} MiB`);
      }
      if (wanted('transport')) {
        results.push(row('networked', 'transport', bytes, await measureTransport(bytes, n), { metric: 'transfer' }));
        bar.tick(n, `transport ${bytes >> 20} MiB`);
      }
      for (const mode of ['networked', 'remote-kv'] as const) {
        if (!wanted(mode)) continue;
        await measurePair(engine, 'net', bytes, 2, mode);
        const samples = await measurePair(engine, 'net', bytes, n, mode, tick(mode));
        results.push(row('networked', mode, bytes, samples.map((s) => s.transferMs), {
          metric: 'transfer',
          endToEndMs: row('e2e', mode, bytes, samples.map((s) => s.endToEndMs)).latencyMs,
        }));
      }
    }
  } finally {
    bar.stop();
    await engine?.close();
    await harness?.close();
    await sites.close();
  }
  return {
    meta: meta(opts.command, { ...sites.meta, nats: harness.nats }),
    results,
    goals: networkedGoals(results, { sizes, link: sites.link, loopbackComparable: sites.loopbackComparable, redisWhere: sites.redisWhere }),
    notes: [
      ...sites.notes,
      ...(iperf3 === undefined ? [] : iperf3.ok
        ? [`iperf3 (${iperf3.version}): ${iperf3.gbPerSec.toFixed(2)} GB/s over ${iperf3.seconds.toFixed(1)} s ${sites.where}`]
        : [`iperf3 row absent: ${iperf3.reason}`]),
    ],
  };
}
