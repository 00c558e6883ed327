// trap (test fixture): first input byte 1 traps (unreachable), 2 throws
// (abort with a message), 3 reports a guest failure; anything else echoes.
import { Bytes, Inputs, fail, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let op = input.length > 0 ? input.get(0) : 0;
  if (op == 1) unreachable();
  if (op == 2) throw new Error("trap fixture asked to throw");
  if (op == 3) return fail(7, "trap fixture refused its input");
  return input;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
