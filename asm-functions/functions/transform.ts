// transform: writes an output as large as its input: every bit inverted.
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let len = <usize>input.length;
  let out = Bytes.alloc(input.length);
  let src = input.ptr, dst = out.ptr;
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
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
