// chain (test fixture): a self-call chain. Input: u32 LE n, then the name of
// the function to call (UTF-8). n == 0 returns the input; otherwise it calls
// the named function with n - 1 and returns that call's result.
import { Bytes, Call, Inputs, fail, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  if (input.length < 5) return fail(1, "chain expects u32 n, then a function name");
  let n = input.getU32(0);
  if (n == 0) return input;
  let next = input.copy();
  next.setU32(0, n - 1);
  let call = Call.start(input.slice(4).toString(), next);
  let r = call.wait();
  if (r === null) return fail(2, "chain call failed with status " + call.status.toString());
  return r;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
