// AssemblyScript sources of functions "a user wrote outside this repo", for
// the tests of `cwasi build` and of the installed package. Each carries
// static data (a string constant), so overlapping regions would be real.

/** Output: "<tag>:" followed by the input bytes. */
export function taggingSource(tag: string): string {
  return `import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

const TAG = "${tag}:";

function handle(inputs: Inputs): Bytes {
  const input = inputs.first();
  const tag = Bytes.fromString(TAG);
  const out = Bytes.alloc(tag.length + input.length);
  memory.copy(out.ptr, tag.ptr, <usize>tag.length);
  memory.copy(out.ptr + <usize>tag.length, input.ptr, <usize>input.length);
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
`;
}
