// Test fixture: reads only the first 64 KiB of its input stream (or less
// when the stream is shorter) and returns their checksum record, leaving the
// rest unread: a consumer that stops early.
import { Bytes, Reader, Writer, serveStream } from "cwasi/sdk";
import { checksum } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

const buf = Bytes.alloc(64 * 1024);

function handle(input: Reader, output: Writer): void {
  let n = input.readFull(buf);
  if (n < 0) n = 0;
  let out = Bytes.alloc(8);
  out.setU32(0, checksum(buf.ptr, <usize>n));
  out.setU32(4, <u32>n);
  output.write(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
