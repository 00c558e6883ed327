// stream-producer: the producer function as a stream: the same N
// deterministic bytes from a seed, generated straight into the places the
// reader will find them (Writer.reserve), a chunk at a time, so that
// no memory ever holds them all. Input: 8 bytes, u32 LE length then u32 LE
// seed, or 12 with a u32 LE high word of the length (streams beyond 4 GiB).
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { Producer } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline const MAX_PIECE: i32 = 1 << 20;

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
    let want = <i32>min<u64>(left, <u64>MAX_PIECE);
    let out = output.reserve(want);
    // A reader that stopped: nothing more to write.
    if (out.length == 0) return;
    // Whole 16-byte blocks but for the last piece: the bytes do not depend on where pieces end.
    let k = out.length >= want ? want : out.length & ~15;
    if (k == 0) {
      fail(1, "stream-producer: a reserved place under 16 bytes");
      return;
    }
    gen.fill(out.ptr, <usize>k);
    if (output.commit(k) < 0) return;
    left -= <u64>k;
  }
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
