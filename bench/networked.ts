// `cwasi bench networked`: payloads between functions on two engine nodes.
// Two `cwasi node` processes on 127.0.0.2 and 127.0.0.3 host a producer and a
// consumer (checksum); this process coordinates through NATS.
//   networked   the producer's node streams its memory straight to the
//               consumer's node over the authenticated TCP Networked Buffer
//   remote-kv   the same pair forced through the real Redis (SET, then GET)
//   raw-tcp     plain node:net on loopback in this process, reading with
//               onread into a reused buffer (both ends in one thread)
//   raw-tcp-2proc  plain node:net with the two ends in two processes, as the
//               engine rows have them: a child process on 127.0.0.2 writes
//               one preallocated buffer, this one reads it from 127.0.0.3
//               into a reused 4 MiB buffer (net-ref.ts): the line-rate
//               reference Node reaches
//   iperf3      iperf3 itself over loopback for 3 s, when installed (the
//               report says when it is not): the machine's TCP ceiling; its
//               row's latency is the payload ÷ iperf3's rate
//   transport   the Networked Buffer transport alone, in this process
// Latency is the paper's: producer returned → consumer has every byte.
// Goals: networked ≥ 80% of raw-tcp and ≥ 90% of raw-tcp-2proc (and of
// iperf3 where measured) throughput at 100 MiB; networked ≥ 3× remote-kv at
// 2 MiB.

import { Engine } from '../engine/index.js';
import { startCluster } from './cluster-harness.js';
import { type BenchOptions, type BenchReport, type BenchResult, type Goal, meta, progress, round, row } from './common.js';
import { measureRawTcp, measureTransport } from './net-raw.js';
import { measureIperf3, measureRawTcpProcesses, type Iperf3Result } from './net-ref.js';
import { countFor, measurePair } from './transfer.js';

const MiB = 1 << 20;
/** How long iperf3 streams (its own bound; the bench kills it 10 s later). */
const IPERF3_SECONDS = 3;

export async function networked(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [2 * MiB, 100 * MiB];
  const wanted = (m: string) => opts.modes === undefined || opts.modes.includes(m);
  const total = sizes.reduce((n, s) => n + countFor(s, opts.quick, opts.executions) * 5, 0);
  const bar = progress(opts.progress, total, 'networked');
  const results: BenchResult[] = [];
  const harness = await startCluster({ nodes: [{ name: 'bench-b', host: '127.0.0.2' }, { name: 'bench-c', host: '127.0.0.3' }], threads: opts.threads ?? 2 });
  let engine: Engine | undefined;
  let iperf3: Iperf3Result | undefined;
  try {
    if (wanted('iperf3')) {
      bar.tick(0, 'iperf3');
      iperf3 = await measureIperf3(IPERF3_SECONDS);
      if (iperf3.ok) {
        const big = Math.max(...sizes);
        results.push(row('networked', 'iperf3', big, [big / (iperf3.gbPerSec * 1e9) * 1000], {
          metric: 'stream rate', iperf3: { version: iperf3.version, seconds: iperf3.seconds, bytes: iperf3.bytes, gbPerSec: round(iperf3.gbPerSec, 3) },
        }));
      }
    }
    engine = await Engine.create({
      threads: 1, timeoutMs: 120_000,
      cluster: { nats: harness.nats, cluster: harness.cluster, name: 'bench-coordinator', secretFile: harness.secretFile },
    });
    await engine.deploy({
      name: 'net',
      functions: { 'net-producer': { module: 'producer', host: 'bench-b' }, 'net-consumer': { module: 'checksum', host: 'bench-c' } },
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
        results.push(row('networked', 'raw-tcp-2proc', bytes, await measureRawTcpProcesses(bytes, n), { metric: 'transfer' }));
        bar.tick(n, `raw-tcp-2proc ${bytes >> 20} MiB`);
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
    await harness.close();
  }
  const goals: Goal[] = [];
  const at = (mode: string, bytes: number) => results.find((r) => r.mode === mode && r.payloadBytes === bytes);
  const big = Math.max(...sizes);
  const net = at('networked', big);
  const raw = at('raw-tcp', big);
  if (net?.gbPerSec && raw?.gbPerSec) {
    const ratio = net.gbPerSec / raw.gbPerSec;
    goals.push({ name: `networked vs raw-tcp throughput at ${big >> 20} MiB`, target: '>= 0.80', measured: `${ratio.toFixed(2)} (${net.gbPerSec.toFixed(2)} vs ${raw.gbPerSec.toFixed(2)} GB/s)`, pass: ratio >= 0.8 });
  }
  // The line-rate references: two processes, like the engine rows.
  for (const refMode of ['raw-tcp-2proc', 'iperf3']) {
    const ref = at(refMode, big);
    if (!net?.gbPerSec || !ref?.gbPerSec) continue;
    const ratio = net.gbPerSec / ref.gbPerSec;
    goals.push({ name: `networked vs ${refMode} throughput at ${big >> 20} MiB`, target: '>= 0.90', measured: `${ratio.toFixed(2)} (${net.gbPerSec.toFixed(2)} vs ${ref.gbPerSec.toFixed(2)} GB/s)`, pass: ratio >= 0.9 });
  }
  const small = Math.min(...sizes);
  const n2 = at('networked', small);
  const kv2 = at('remote-kv', small);
  if (n2 && kv2) {
    const ratio = kv2.latencyMs.meanMs / n2.latencyMs.meanMs;
    goals.push({ name: `networked vs remote-kv at ${small >> 20} MiB (paper throughput)`, target: '>= 3x', measured: `${ratio.toFixed(1)}x (${n2.latencyMs.meanMs.toFixed(2)} vs ${kv2.latencyMs.meanMs.toFixed(2)} ms)`, pass: ratio >= 3 });
  }
  return {
    meta: meta(opts.command, { nodes: ['bench-b@127.0.0.2', 'bench-c@127.0.0.3'], nats: harness.nats }),
    results,
    goals,
    notes: [
      'networked and remote-kv rows: producer on one node process, consumer on another; raw-tcp-2proc: a sender process and this one; raw-tcp and transport: one process, loopback',
      ...(iperf3 === undefined ? [] : iperf3.ok
        ? [`iperf3 (${iperf3.version}): ${iperf3.gbPerSec.toFixed(2)} GB/s over ${iperf3.seconds.toFixed(1)} s on loopback (127.0.0.2 → 127.0.0.3)`]
        : [`iperf3 row absent: ${iperf3.reason}`]),
    ],
  };
}
