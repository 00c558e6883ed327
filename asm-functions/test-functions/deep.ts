// deep (test fixture): recurses to the depth in the first input word (u32,
// little endian), each frame keeping managed references on the shadow stack,
// then returns its input unchanged. A depth whose frames exceed the
// instance's stack must trap with "stack overflow", never write below it.
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

class Node {
  constructor(public value: i32, public next: Node | null) {}
}

function recurse(depth: i32, below: Node | null): i32 {
  if (depth == 0) return below === null ? 0 : below.value;
  // `here` stays live across the call: asc spills it to the shadow stack.
  let here = new Node(depth, below);
  let r = recurse(depth - 1, here);
  return r + here.value - depth;
}

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let depth = input.length >= 4 ? <i32>input.getU32(0) : 0;
  if (recurse(depth, null) != 1 && depth > 0) unreachable();
  return input;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
