// hog (test fixture): holds u32 LE `MiB` mebibytes live at once (one block
// per MiB, all reachable until the call returns, so the collector cannot
// reclaim them), touches one byte per page and returns 8 bytes (u32 MiB,
// u32 sum of touched bytes).
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let mib = input.length >= 4 ? input.getU32(0) : 1;
  let sum: u32 = 0;
  let held = new Array<Bytes>();
  for (let i: u32 = 0; i < mib; i++) {
    let block = Bytes.alloc(1 << 20);
    held.push(block);
    for (let p = 0; p < (1 << 20); p += 4096) {
      block.set(p, <u8>(p >>> 12));
      sum += <u32>block.get(p);
    }
  }
  let out = Bytes.alloc(8);
  out.setU32(0, mib);
  out.setU32(4, sum);
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
