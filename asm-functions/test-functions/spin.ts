// spin (test fixture): first input byte 1 loops forever (for deadline and
// abort tests); anything else echoes.
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  if (input.length > 0 && input.get(0) == 1) {
    let x: u32 = 1;
    while (x != 0) x = (x * 1664525 + 1013904223) | 1;
  }
  return input;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
