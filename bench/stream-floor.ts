// References for `cwasi bench stream`, measured in the same run with no
// stream at all, that its ratio goals are read against.
//
//  - stages at once: the three whole-payload stages (producer, transform,
//    checksum), each its own function on its own bytes, started together in
//    three workers: the work of a pipeline run at once, without moving bytes
//    between the stages, on a machine that may have fewer cores than stages.
//    Not a strict bound: a streamed stage works on chunks that stay in cache.
//  - two raw TCP hops at once: the same bytes sent over two loopback TCP
//    connections at the same time, four plain Node processes, no engine
//    (bench/net-ref.ts). A networked chain's two edges are two such hops
//    running at once, besides the stages: a lower bound of its makespan.

import { Engine, type InvocationReport } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { measureRawTcpProcesses } from './net-ref.js';

/** Makespans (ms) of the three stages started together, `reps` times after one warm-up. */
export async function stagesAtOnce(threads: number, size: number, reps: number, memoryMaxBytes: number): Promise<number[]> {
  const engine = await Engine.create({ threads, memoryMaxBytes });
  try {
    await engine.deploy([{ name: 'floor-producer', module: 'producer' }, { name: 'floor-transform', module: 'transform' }, { name: 'floor-checksum', module: 'checksum' }]);
    const data = workloads.produce(size, 3);
    const once = async (): Promise<number> => {
      const reports: InvocationReport[] = await Promise.all([
        engine.invokeWithReport('floor-producer', workloads.producerSpec(size, 7), { timeoutMs: 600_000 }),
        engine.invokeWithReport('floor-transform', data, { timeoutMs: 600_000 }),
        engine.invokeWithReport('floor-checksum', data, { timeoutMs: 600_000 }),
      ]);
      const steps = reports.flatMap((r) => r.steps);
      return Math.max(...steps.map((s) => s.done)) - Math.min(...steps.map((s) => s.inputReady));
    };
    await once();
    const out: number[] = [];
    for (let k = 0; k < reps; k++) out.push(await once());
    return out;
  } finally {
    await engine.close();
  }
}

/** Per run, the slower of two raw TCP hops of `size` bytes sent at the same time (ms), `reps` times. */
export async function rawHopsAtOnce(size: number, reps: number): Promise<number[]> {
  // A wrapper makes each receiver a process of its own, as each node is.
  const ends = (send: string, recv: string) => ({ send: { host: send, wrap: ['env'] }, recv: { host: recv, wrap: ['env'] } });
  const out: number[] = [];
  for (let k = 0; k < reps; k++) {
    const [a, b] = await Promise.all([
      measureRawTcpProcesses(size, 1, undefined, undefined, ends('127.0.0.2', '127.0.0.3')),
      measureRawTcpProcesses(size, 1, undefined, undefined, ends('127.0.0.3', '127.0.0.2')),
    ]);
    out.push(Math.max(a[0]!, b[0]!));
  }
  return out;
}
