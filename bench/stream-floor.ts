// References for `cwasi bench stream`, measured in the same run with no
// engine.
//
// Two raw TCP hops at once: the same bytes sent over two loopback TCP
// connections at the same time, four plain Node processes (bench/net-ref.ts).
// A networked chain's two edges are two such hops running at once, besides
// its stages: a lower bound of its makespan. Each end also reports the CPU
// time it spent (user + system: the kernel's copies and TCP work are most of
// it), which gives a second bound:
//
//   CPU floor = (the stages' times alone + the two hops' CPU time) ÷ cores
//
// A chain cannot end before the machine's cores have done its stages' work
// and moved its bytes across two TCP connections; the raw ends move them as
// cheaply as Node can (one write of the whole payload, reads into one reused
// buffer), so the engine's own transport costs at least as much.

import { availableParallelism } from 'node:os';
import { measureRawTcpProcesses, type RawCpu } from './net-ref.js';

export interface HopsAtOnce {
  /** Per run, the slower of the two hops (ms). */
  ms: number[];
  /** Per run, the CPU time (ms) of all four ends together. */
  cpuMs: number[];
}

/** Two raw TCP hops of `size` bytes sent at the same time, `reps` times. */
export async function rawHopsAtOnce(size: number, reps: number): Promise<HopsAtOnce> {
  // A wrapper makes each receiver a process of its own, as each node is.
  const ends = (send: string, recv: string) => ({ send: { host: send, wrap: ['env'] }, recv: { host: recv, wrap: ['env'] } });
  const out: HopsAtOnce = { ms: [], cpuMs: [] };
  for (let k = 0; k < reps; k++) {
    const cpu: RawCpu[] = [{ sendMs: [], recvMs: [] }, { sendMs: [], recvMs: [] }];
    const [a, b] = await Promise.all([
      measureRawTcpProcesses(size, 1, undefined, undefined, ends('127.0.0.2', '127.0.0.3'), false, cpu[0]),
      measureRawTcpProcesses(size, 1, undefined, undefined, ends('127.0.0.3', '127.0.0.2'), false, cpu[1]),
    ]);
    out.ms.push(Math.max(a[0]!, b[0]!));
    out.cpuMs.push(cpu.reduce((sum, c) => sum + c.sendMs[0]! + c.recvMs[0]!, 0));
  }
  return out;
}

/** The cores a chain's threads share here. */
export function cores(): number {
  return availableParallelism();
}

/** The CPU floor of a chain (ms): its stages' times alone plus the transport's CPU time, over the cores. */
export function cpuFloorMs(stagesMs: number[], transportCpuMs: number): number {
  return (stagesMs.reduce((a, b) => a + b, 0) + transportCpuMs) / cores();
}
