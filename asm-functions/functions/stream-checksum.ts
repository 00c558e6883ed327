// stream-checksum: the checksum function as a stream: cwasi-sum32 of all its
// input, read chunk by chunk. Output: 8 bytes, u32 LE sum then u32 LE length
// (the checksum function's record for the same bytes as one input).
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { Sum32 } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline const CHUNK: i32 = 64 * 1024;

const buf = Bytes.alloc(CHUNK);

function handle(input: Reader, output: Writer): void {
  let sum = new Sum32();
  for (;;) {
    let n = input.read(buf);
    if (n == 0) break;
    if (n < 0) {
      fail(1, "input stream failed");
      return;
    }
    sum.update(buf.ptr, <usize>n);
  }
  let out = Bytes.alloc(8);
  out.setU32(0, sum.finish());
  out.setU32(4, <u32>sum.length);
  output.write(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
