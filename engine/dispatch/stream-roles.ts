// Whether a function streams: it reads an input stream when its module
// imports cwasi.stream_read or cwasi.stream_next, writes an output stream
// when it imports cwasi.stream_write or cwasi.stream_reserve
// (asm-functions/ABI.md, "Imports"). Read from the
// module's import section once per compiled module.

const roles = new WeakMap<WebAssembly.Module, { reads: boolean; writes: boolean }>();

export function streamRoles(module: WebAssembly.Module): { reads: boolean; writes: boolean } {
  let r = roles.get(module);
  if (r === undefined) {
    const names = new Set(WebAssembly.Module.imports(module).filter((i) => i.module === 'cwasi').map((i) => i.name));
    r = { reads: names.has('stream_read') || names.has('stream_next'), writes: names.has('stream_write') || names.has('stream_reserve') };
    roles.set(module, r);
  }
  return r;
}
