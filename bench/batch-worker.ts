// The Piscina reference of `cwasi bench batch`: one pipeline stage per task,
// on the same wasm kernels as the bundled functions (asm-functions/bench/kernels.ts),
// the way a Node user would write it: copy the input into the module's memory,
// run the kernel, copy the result out, return it (structured clone, or moved
// when the task asks for a transfer). Stage `all` is the work alone: the three
// kernels back to back in one memory, no copy in or out (the compute-only row).
// Stage `all-copy` adds the one copy an isolated consumer needs: the transform's
// output copied into a second instance's memory, where the checksum reads it
// (the compute-and-copy row).
import { move, workerData } from 'piscina';

interface Kernels {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  produce(ptr: number, len: number, seed: number): void;
  transform(src: number, dst: number, len: number): void;
  checksum(ptr: number, len: number): number;
}

const k = new WebAssembly.Instance((workerData as { kernels: WebAssembly.Module }).kernels, {}).exports as unknown as Kernels;
/** The consumer's own instance and memory (stage all-copy). */
const k2 = new WebAssembly.Instance((workerData as { kernels: WebAssembly.Module }).kernels, {}).exports as unknown as Kernels;

export type StageTask =
  | { stage: 'produce'; len: number; seed: number; transfer: boolean }
  | { stage: 'transform'; bytes: Uint8Array; transfer: boolean }
  | { stage: 'checksum'; bytes: Uint8Array }
  | { stage: 'all'; len: number; seed: number }
  | { stage: 'all-copy'; len: number; seed: number };

export default function stage(task: StageTask): Uint8Array | { hash: number; length: number } {
  switch (task.stage) {
    case 'produce': {
      const p = k.reserve(task.len);
      k.produce(p, task.len, task.seed);
      const out = new Uint8Array(k.memory.buffer, p, task.len).slice();
      return task.transfer ? (move(out) as Uint8Array) : out;
    }
    case 'transform': {
      const n = task.bytes.length;
      const p = k.reserve(2 * n);
      new Uint8Array(k.memory.buffer).set(task.bytes, p);
      k.transform(p, p + n, n);
      const out = new Uint8Array(k.memory.buffer, p + n, n).slice();
      return task.transfer ? (move(out) as Uint8Array) : out;
    }
    case 'checksum': {
      const n = task.bytes.length;
      const p = k.reserve(n);
      new Uint8Array(k.memory.buffer).set(task.bytes, p);
      return { hash: k.checksum(p, n) >>> 0, length: n };
    }
    case 'all': {
      const n = task.len;
      const p = k.reserve(2 * n);
      k.produce(p, n, task.seed);
      k.transform(p, p + n, n);
      return { hash: k.checksum(p + n, n) >>> 0, length: n };
    }
    case 'all-copy': {
      const n = task.len;
      const p = k.reserve(2 * n);
      k.produce(p, n, task.seed);
      k.transform(p, p + n, n);
      const q = k2.reserve(n);
      new Uint8Array(k2.memory.buffer, q, n).set(new Uint8Array(k.memory.buffer, p + n, n));
      return { hash: k2.checksum(q, n) >>> 0, length: n };
    }
  }
}
