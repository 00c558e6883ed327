// checksum: reads every input byte. Output: 8 bytes, u32 LE cwasi-sum32 then u32 LE length.
// With several inputs (fan-in) the output has one 8-byte record per input.
import { Bytes, Inputs, serve } from "cwasi/sdk";
import { checksum } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let n = max(inputs.count, 1);
  let out = Bytes.alloc(8 * n);
  for (let i = 0; i < n; i++) {
    let input = inputs.get(i);
    out.setU32(8 * i, checksum(input.ptr, <usize>input.length));
    out.setU32(8 * i + 4, <u32>input.length);
  }
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
