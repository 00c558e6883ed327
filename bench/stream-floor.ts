// A reference for `cwasi bench stream`'s networked rows, measured in the same
// run with no engine: the same bytes sent over two loopback TCP connections
// at the same time, four plain Node processes (bench/net-ref.ts). A
// networked chain's two edges are two such hops running at once, besides its
// stages: a lower bound of its makespan.

import { measureRawTcpProcesses } from './net-ref.js';

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
