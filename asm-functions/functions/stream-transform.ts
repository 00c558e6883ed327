// stream-transform: the transform function as a stream: every bit of every
// chunk inverted as it arrives, read where it lies and written straight
// into the place the reader will find it (Reader.next, Writer.reserve).
// Output: as long as the input.
import { Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { invert } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(input: Reader, output: Writer): void {
  for (;;) {
    let chunk = input.next();
    if (chunk.length == 0) {
      if (input.status < 0) fail(1, "input stream failed");
      return;
    }
    let off = 0;
    while (off < chunk.length) {
      let out = output.reserve(chunk.length - off);
      // A reader that stopped: nothing more to write.
      if (out.length == 0) return;
      invert(chunk.ptr + <usize>off, out.ptr, <usize>out.length);
      if (output.commit(out.length) < 0) return;
      off += out.length;
    }
  }
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
