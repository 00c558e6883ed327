// aggregate: the fan-in sink. Reads every byte of every input.
// Output: u32 LE input count, u32 LE total length (low), u32 LE total length (high),
// u32 LE cwasi-sum32 of the per-input records, then one record per input:
// u32 LE length, u32 LE cwasi-sum32 of that input.
import { Bytes, Inputs, serve } from "cwasi/sdk";
import { checksum } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline const HEADER: i32 = 16;

function handle(inputs: Inputs): Bytes {
  let n = inputs.count;
  let out = Bytes.alloc(HEADER + 8 * n);
  let total: u64 = 0;
  for (let i = 0; i < n; i++) {
    let input = inputs.get(i);
    out.setU32(HEADER + 8 * i, <u32>input.length);
    out.setU32(HEADER + 8 * i + 4, checksum(input.ptr, <usize>input.length));
    total += <u64>input.length;
  }
  out.setU32(0, <u32>n);
  out.setU32(4, <u32>total);
  out.setU32(8, <u32>(total >>> 32));
  out.setU32(12, checksum(out.ptr + <usize>HEADER, <usize>(8 * n)));
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
