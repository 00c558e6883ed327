// The goals of `cwasi bench networked`, from its rows: networked against
// each reference at the largest size (raw-tcp only where it ran where the
// nodes did), against remote-kv at the smallest, and (with `--link`) against
// the link rate itself.

import { sizeLabel, type BenchResult, type Goal, type LinkRate } from './common.js';

export interface GoalContext {
  sizes: number[];
  /** The shaped link rate, where there is one. */
  link: LinkRate | undefined;
  /** False where raw-tcp ran on loopback and the nodes did not (no goal against it then). */
  loopbackComparable: boolean;
  /** Where Redis ran, for the remote-kv goal's name (e.g. "Redis in its own namespace"). */
  redisWhere: string | undefined;
}

export function networkedGoals(results: BenchResult[], c: GoalContext): Goal[] {
  const goals: Goal[] = [];
  const at = (mode: string, bytes: number) => results.find((r) => r.mode === mode && r.payloadBytes === bytes);
  const big = Math.max(...c.sizes);
  const net = at('networked', big);
  const vs = (refMode: string, target: number, note = '') => {
    const ref = at(refMode, big);
    if (!net?.gbPerSec || !ref?.gbPerSec) return;
    const ratio = net.gbPerSec / ref.gbPerSec;
    goals.push({ name: `networked vs ${refMode} throughput at ${sizeLabel(big)}`, target: `>= ${target.toFixed(2)}`, measured: `${ratio.toFixed(2)} (${net.gbPerSec.toFixed(2)} vs ${ref.gbPerSec.toFixed(2)} GB/s)${note}`, pass: ratio >= target });
  };
  // raw-tcp-2proc discards what it reads into one reused buffer; a receiver that keeps the
  // payload (raw-tcp-2proc-kept) shows what landing every byte where it belongs costs here.
  const reused = at('raw-tcp-2proc', big);
  const kept = at('raw-tcp-2proc-kept', big);
  const keptNote = reused?.gbPerSec && kept?.gbPerSec
    ? `; a raw receiver that keeps the payload: ${(kept.gbPerSec / reused.gbPerSec).toFixed(2)} of it (${kept.gbPerSec.toFixed(2)} GB/s)${kept.gbPerSec / reused.gbPerSec < 0.9 ? ', so the line is beyond any receiver that keeps the bytes on this machine' : ''}`
    : '';
  if (c.loopbackComparable) vs('raw-tcp', 0.8);
  // The line-rate references: two processes, like the engine rows.
  vs('raw-tcp-2proc', 0.9, keptNote);
  vs('raw-tcp-2proc-kept', 0.9);
  vs('iperf3', 0.9);
  if (c.link !== undefined && net?.gbPerSec) {
    // tbf counts the packets' headers too, so a payload reaches a little under the rate.
    const linkGBps = c.link.bitsPerSec / 8 / 1e9;
    const ratio = net.gbPerSec / linkGBps;
    goals.push({ name: `networked vs the ${c.link.text} link rate at ${sizeLabel(big)}`, target: '>= 0.90', measured: `${ratio.toFixed(2)} (${net.gbPerSec.toFixed(3)} vs ${linkGBps.toFixed(3)} GB/s)`, pass: ratio >= 0.9 });
  }
  const small = Math.min(...c.sizes);
  const n2 = at('networked', small);
  const kv2 = at('remote-kv', small);
  if (n2 && kv2) {
    const ratio = kv2.latencyMs.meanMs / n2.latencyMs.meanMs;
    goals.push({
      name: `networked vs remote-kv at ${sizeLabel(small)} (paper throughput${c.redisWhere === undefined ? '' : `, ${c.redisWhere}`})`,
      target: '>= 3x', measured: `${ratio.toFixed(1)}x (${n2.latencyMs.meanMs.toFixed(2)} vs ${kv2.latencyMs.meanMs.toFixed(2)} ms)`, pass: ratio >= 3,
    });
  }
  return goals;
}
