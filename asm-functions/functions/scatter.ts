// scatter: produces data and calls another function with it from inside
// (guest-initiated calls, CWASI's func_connect), n calls in flight at once.
// Input: u32 LE length, u32 LE seed, u32 LE n, then the target's name (UTF-8).
// Output: the n results concatenated in call order.
import { Bytes, Call, Inputs, fail, serve } from "cwasi/sdk";
import { produce } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let spec = inputs.first();
  if (spec.length < 13) return fail(1, "scatter expects u32 length, u32 seed, u32 n, target name");
  let length = spec.getU32(0);
  let n = <i32>spec.getU32(8);
  if (n < 1 || n > 10000) return fail(2, "scatter n must be 1..10000");
  let target = spec.slice(12).toString();
  let payload = Bytes.alloc(<i32>length);
  produce(payload.ptr, <usize>length, spec.getU32(4));
  let calls = new Array<Call>(n);
  for (let i = 0; i < n; i++) calls[i] = Call.start(target, payload);
  let results = new Array<Bytes>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let r = calls[i].wait();
    if (r === null) return fail(3, "call to " + target + " failed with status " + calls[i].status.toString());
    results[i] = r;
    total += r.length;
  }
  let out = Bytes.alloc(total);
  let at: usize = 0;
  for (let i = 0; i < n; i++) {
    memory.copy(out.ptr + at, results[i].ptr, <usize>results[i].length);
    at += <usize>results[i].length;
  }
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
