// Reference build for `cwasi bench stack-check`: the stack check as asc emits
// it, against the module's constant __data_end (which the optimiser folds
// into an immediate). It exports the pointer and a `__stack_limit` that the
// check never reads, so the engine runs the module like any other; only the
// cost of the check differs from asm-functions/rt/export-stack-pointer.mjs.
import { Transform } from 'assemblyscript/transform';
import binaryen from 'binaryen';

export default class ConstantStackLimit extends Transform {
  afterCompile(module) {
    const sp = '~lib/memory/__stack_pointer';
    if (!module.getGlobal(sp)) return;
    module.addGlobalExport(sp, '__stack_pointer');
    module.addGlobal('bench/unused_stack_limit', binaryen.i32, true, module.i32.const(0));
    module.addGlobalExport('bench/unused_stack_limit', '__stack_limit');
  }
}
