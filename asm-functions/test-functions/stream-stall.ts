// Test fixture: reads one chunk of its input stream, then stops reading and
// never returns (it spins): only the deadline, or an abort, ends it.
import { Bytes, Reader, Writer, serveStream } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

const buf = Bytes.alloc(4096);
let sink: u32 = 0;

function handle(input: Reader, output: Writer): void {
  input.read(buf);
  for (;;) sink += load<u8>(buf.ptr);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
