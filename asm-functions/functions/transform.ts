// transform: writes an output as large as its input: every bit inverted.
import { Bytes, Inputs, serve } from "cwasi/sdk";
import { invert } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let out = Bytes.alloc(input.length);
  invert(input.ptr, out.ptr, <usize>input.length);
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
