// Test fixture: uses the stream host functions as the SDK would not. The
// first input byte picks what it does; the rest of the input is its data.
//   0  stream_read into its own input (read-only)
//   1  write 64 KiB chunks until the host stops it (payload limit)
//   2  end the stream, then write: fails with code 3 when the write is refused
//   3  write to the stream and also report an output
//   4  write to the stream and return without ending it
//   5  cwasi-sum32 of the rest of the input, read in pieces of n bytes (u32 LE
//      at bytes 1-4), through Sum32; output as the checksum function's record
//   6  write from a pointer beyond the memory
//   7  read until the host stops it (a deadline)
//   8  write 4 MiB of its 64 KiB chunk, then trap
//   9  reserve 16 bytes of output, then commit 17
//  10  stream_next with its slice beyond the memory
//  11  stream_next with its slice in its own input (read-only)
import { Bytes, Inputs, fail, serveStream, Reader, Writer } from "cwasi/sdk";
import { host_output, host_stream_commit, host_stream_end, host_stream_next, host_stream_read, host_stream_reserve, host_stream_write } from "cwasi/sdk/host";
import { Sum32 } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

let inputPtr: usize = 0;
/** Mode 1's chunk, made once: the failing call allocates nothing of its own. */
const chunk = Bytes.alloc(64 * 1024);

function handle(input: Reader, output: Writer): void {
  let head = Bytes.alloc(5);
  if (input.readFull(head.slice(0, 1)) != 1) {
    fail(9, "no mode byte");
    return;
  }
  let mode = head.get(0);
  if (mode == 0) {
    host_stream_read(inputPtr, 1);
  } else if (mode == 1) {
    for (let i = 0; i < 100000; i++) host_stream_write(chunk.ptr, <usize>chunk.length);
  } else if (mode == 2) {
    host_stream_end();
    let b = Bytes.alloc(4);
    if (host_stream_write(b.ptr, 4) == -3) fail(3, "write after the end refused");
  } else if (mode == 3) {
    let b = Bytes.alloc(4);
    output.write(b);
    host_output(b.ptr, 4);
  } else if (mode == 5) {
    if (input.readFull(head.slice(1, 5)) != 4) {
      fail(9, "no piece size");
      return;
    }
    let piece = max<i32>(<i32>head.getU32(1), 1);
    let buf = Bytes.alloc(piece);
    let sum = new Sum32();
    for (;;) {
      let n = input.read(buf);
      if (n <= 0) break;
      sum.update(buf.ptr, <usize>n);
    }
    let out = Bytes.alloc(8);
    out.setU32(0, sum.finish());
    out.setU32(4, <u32>sum.length);
    output.write(out);
  } else if (mode == 6) {
    host_stream_write(<usize>0xFFFF0000, 64);
  } else if (mode == 8) {
    for (let i = 0; i < 64; i++) output.write(chunk);
    unreachable();
  } else if (mode == 9) {
    let slice = Bytes.alloc(8);
    host_stream_reserve(16, slice.ptr);
    host_stream_commit(17);
  } else if (mode == 10) {
    host_stream_next(0, <usize>0xFFFF0000);
  } else if (mode == 11) {
    host_stream_next(0, inputPtr);
  } else if (mode == 7) {
    let b = Bytes.alloc(16);
    for (;;) host_stream_read(b.ptr, 16);
  }
}

export function cwasi_main(table: usize, count: u32): i32 {
  inputPtr = new Inputs(table, <i32>count).first().ptr;
  let mode = count > 0 ? load<u8>(inputPtr) : 255;
  if (mode == 4) {
    let b = Bytes.alloc(4);
    host_stream_write(b.ptr, 4);
    return 0;
  }
  return serveStream(table, count, handle);
}
