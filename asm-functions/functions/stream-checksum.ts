// stream-checksum: the checksum function as a stream: cwasi-sum32 of all its
// input, each piece read where it lies (Reader.next). Output: 8 bytes, u32 LE
// sum then u32 LE length (the checksum function's record for the same bytes
// as one input).
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { Sum32 } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(input: Reader, output: Writer): void {
  let sum = new Sum32();
  for (;;) {
    let chunk = input.next();
    if (chunk.length == 0) break;
    sum.update(chunk.ptr, <usize>chunk.length);
  }
  if (input.status < 0) {
    fail(1, "input stream failed");
    return;
  }
  let out = Bytes.alloc(8);
  out.setU32(0, sum.finish());
  out.setU32(4, <u32>sum.length);
  output.write(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
