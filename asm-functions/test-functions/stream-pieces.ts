// stream-pieces (tests): reads its input stream with Reader.next and reports
// how it came: 16 bytes, u32 LE pieces, u32 LE the largest piece, u32 LE
// bytes in all (mod 2^32), u32 LE how many places the pieces lay at (up to
// 16), so that a test sees a live window's chunk size and whether its chunks
// were read in place (one place per chunk of the window) or copied (one
// buffer).
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(input: Reader, output: Writer): void {
  let pieces: u32 = 0;
  let largest: u32 = 0;
  let total: u32 = 0;
  let places = new Array<usize>();
  for (;;) {
    let piece = input.next();
    if (piece.length == 0) break;
    pieces++;
    if (<u32>piece.length > largest) largest = <u32>piece.length;
    total += <u32>piece.length;
    if (places.length < 16 && !places.includes(piece.ptr)) places.push(piece.ptr);
  }
  if (input.status < 0) {
    fail(1, "input stream failed");
    return;
  }
  let out = Bytes.alloc(16);
  out.setU32(0, pieces);
  out.setU32(4, largest);
  out.setU32(8, total);
  out.setU32(12, <u32>places.length);
  output.write(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
