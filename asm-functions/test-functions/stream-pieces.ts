// stream-pieces (tests): reads its input stream with Reader.next and reports
// how it came: 12 bytes, u32 LE pieces, u32 LE the largest piece, u32 LE
// bytes in all (mod 2^32), so that a test sees a live window's chunk size.
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(input: Reader, output: Writer): void {
  let pieces: u32 = 0;
  let largest: u32 = 0;
  let total: u32 = 0;
  for (;;) {
    let piece = input.next();
    if (piece.length == 0) break;
    pieces++;
    if (<u32>piece.length > largest) largest = <u32>piece.length;
    total += <u32>piece.length;
  }
  if (input.status < 0) {
    fail(1, "input stream failed");
    return;
  }
  let out = Bytes.alloc(12);
  out.setU32(0, pieces);
  out.setU32(4, largest);
  out.setU32(8, total);
  output.write(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
