// statics-b (test fixture): carries a static table in its data segment and
// returns its cwasi-sum32 (u32 LE) followed by its input, so tests can prove
// that other modules sharing the memory never overwrite it.
import { Bytes, Inputs, serve } from "cwasi/sdk";
import { checksum } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

const TABLE: StaticArray<u32> = [
  0x9216D5D9, 0x8979FB1B, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0, 0x082EFA98, 0xEC4E6C89,
  0x452821E6, 0x38D01377, 0xBE5466CF, 0x34E90C6C, 0xC0AC29B7, 0xC97C50DD, 0x3F84D5B5, 0xB5470917,
];
const LABEL = "statics-b: static data intact";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let out = Bytes.alloc(8 + input.length);
  out.setU32(0, checksum(changetype<usize>(TABLE), 64));
  out.setU32(4, checksum(changetype<usize>(LABEL), <usize>(LABEL.length << 1)));
  memory.copy(out.ptr + 8, input.ptr, <usize>input.length);
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
