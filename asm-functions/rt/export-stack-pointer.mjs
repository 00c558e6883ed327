// asc transform: export the shadow stack pointer as `__stack_pointer` and
// make the stack's lower limit a per-instance global exported as
// `__stack_limit`.
//
// asc treats a custom runtime like its incremental GC runtime and emits a
// shadow stack (spilled references, for a collector this runtime does not
// have). The stack lives at a fixed address in the module's static region, so
// two instances of one module running on two threads would share it. With the
// pointer exported, the host gives every instance a stack region of its own in
// the heap (engine/worker/host.ts).
//
// Every function that takes stack space first lowers the pointer, then
// compares it with `~lib/memory/__data_end` before it stores a byte there.
// That global is a constant (the end of the module's static data), which is
// far below a stack the host placed in the heap: an overflow would run
// through the heap blocks under the stack before it trapped. Turning the
// constant into a mutable global that the host sets to the bottom of the
// instance's stack makes the same check trap at the stack's edge. The
// optimiser can no longer fold the check into an immediate, so it costs one
// global read per stack frame (bench: `cwasi bench stack-check`).
import { Transform } from 'assemblyscript/transform';
import binaryen from 'binaryen';

const STACK_POINTER = '~lib/memory/__stack_pointer';
const DATA_END = '~lib/memory/__data_end';

export default class ExportStackPointer extends Transform {
  afterCompile(module) {
    if (!module.getGlobal(STACK_POINTER)) return;
    module.addGlobalExport(STACK_POINTER, '__stack_pointer');
    const dataEnd = module.getGlobal(DATA_END);
    if (!dataEnd) throw new Error('cwasi transform: the module has a shadow stack but no __data_end to check it against');
    const init = binaryen._BinaryenConstGetValueI32(binaryen._BinaryenGlobalGetInitExpr(dataEnd));
    module.removeGlobal(DATA_END);
    // Same name, so every existing `global.get` now reads the host's limit.
    module.addGlobal(DATA_END, binaryen.i32, true, module.i32.const(init));
    module.addGlobalExport(DATA_END, '__stack_limit');
  }
}
