// producer: makes N deterministic bytes from a seed (the benchmarks' data source).
// Input: 8 bytes, u32 LE length then u32 LE seed, or 12 with a u32 LE high
// word of the length (as stream-producer takes it). Output: `length` bytes.
import { Bytes, Inputs, fail, serve } from "cwasi/sdk";
import { produce } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let spec = inputs.first();
  if (spec.length < 8) return fail(1, "producer expects 8 bytes: u32 length, u32 seed");
  let length = <u64>spec.getU32(0);
  if (spec.length >= 12) length |= <u64>spec.getU32(8) << 32;
  // The bound engine/workloads.ts PRODUCER_MAX_BYTES names for the CLI.
  if (length > 0x7FFF0000) return fail(2, "producer: " + length.toString() + " bytes do not fit in one payload; produce them as a stream (stream-producer)");
  let out = Bytes.alloc(<i32>length);
  produce(out.ptr, <usize>length, spec.getU32(4));
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
