// stream-transform: the transform function as a stream: every bit of every
// chunk inverted as it arrives. Output: as long as the input.
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

/** Bytes read (and written) per step. */
// @ts-ignore: decorator
@inline const CHUNK: i32 = 64 * 1024;

// Kept between calls: a streaming function reuses its buffers.
const inBuf = Bytes.alloc(CHUNK);
const outBuf = Bytes.alloc(CHUNK);

function invert(src: usize, dst: usize, len: usize): void {
  let i: usize = 0;
  let words = len & ~<usize>7;
  while (i < words) {
    store<u64>(dst + i, ~load<u64>(src + i));
    i += 8;
  }
  while (i < len) {
    store<u8>(dst + i, ~load<u8>(src + i));
    i++;
  }
}

function handle(input: Reader, output: Writer): void {
  for (;;) {
    let n = input.read(inBuf);
    if (n == 0) return;
    if (n < 0) {
      fail(1, "input stream failed");
      return;
    }
    invert(inBuf.ptr, outBuf.ptr, <usize>n);
    // A reader that stopped: nothing more to write.
    if (output.write(outBuf.slice(0, n)) < 0) return;
  }
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
