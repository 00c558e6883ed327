// stream-producer: the producer function as a stream: the same N
// deterministic bytes from a seed, written 64 KiB at a time, so that no
// memory ever holds them all. Input: 8 bytes, u32 LE length then u32 LE
// seed, or 12 with a u32 LE high word of the length (streams beyond 4 GiB).
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { Producer } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline const CHUNK: i32 = 64 * 1024;

const buf = Bytes.alloc(CHUNK);
const spec = Bytes.alloc(12);

function handle(input: Reader, output: Writer): void {
  let n = input.readFull(spec);
  if (n < 8) {
    fail(1, "stream-producer expects 8 or 12 bytes: u32 length, u32 seed, optional u32 length high word");
    return;
  }
  let length = <u64>spec.getU32(0);
  if (n >= 12) length |= <u64>spec.getU32(8) << 32;
  let gen = new Producer(spec.getU32(4));
  let left = length;
  while (left > 0) {
    let k = <i32>min<u64>(left, <u64>CHUNK);
    gen.fill(buf.ptr, <usize>k);
    // A reader that stopped: nothing more to write.
    if (output.write(buf.slice(0, k)) < 0) return;
    left -= <u64>k;
  }
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
