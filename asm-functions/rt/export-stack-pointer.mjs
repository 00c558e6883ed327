// asc transform: export the shadow stack pointer as `__stack_pointer`.
//
// asc treats a custom runtime like its incremental GC runtime and emits a
// shadow stack (spilled references, for a collector this runtime does not
// have). The stack lives at a fixed address in the module's static region, so
// two instances of one module running on two threads would share it. With the
// pointer exported, the host gives every instance a stack region of its own in
// the heap (engine/worker/host.ts).
import { Transform } from 'assemblyscript/transform';

export default class ExportStackPointer extends Transform {
  afterCompile(module) {
    const name = '~lib/memory/__stack_pointer';
    if (module.getGlobal(name)) module.addGlobalExport(name, '__stack_pointer');
  }
}
