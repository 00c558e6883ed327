// The raw Piscina tasks of the embedding bench's `dispatch-after-run`
// reference (dispatch-ref.ts). `run` writes `bytes` bytes as a producer writes
// its output, keeps its thread busy until `runMs` have passed since it
// started, and returns the time it finished; `stamp` returns the time it
// started. Times are wall-clock milliseconds with sub-millisecond precision,
// comparable across threads.

export type DispatchTask = { kind: 'run'; bytes: number; runMs: number; seed: number } | { kind: 'stamp' };

const now = (): number => performance.timeOrigin + performance.now();
let scratch = new Uint8Array(0);

export default function task(t: DispatchTask): number {
  const started = now();
  if (t.kind === 'stamp') return started;
  if (scratch.length < t.bytes) scratch = new Uint8Array(t.bytes);
  scratch.fill(t.seed & 0xff, 0, t.bytes);
  while (now() - started < t.runMs) {
    // as busy as the producer it stands for
  }
  return now();
}
