// stream-transform: the transform function as a stream: every bit of every
// chunk inverted as it arrives. Output: as long as the input.
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { invert } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

/** Bytes read (and written) per step. */
// @ts-ignore: decorator
@inline const CHUNK: i32 = 64 * 1024;

// Kept between calls: a streaming function reuses its buffers.
const inBuf = Bytes.alloc(CHUNK);
const outBuf = Bytes.alloc(CHUNK);

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
