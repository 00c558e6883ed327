// The one check that a module is a cwasi guest the engine can run safely:
// that it imports its memory the shared way, speaks the guest ABI, and lets
// the host give every instance a shadow stack of its own. A module built by
// plain `asc` without the cwasi flags may still instantiate and even compute
// the right answer alone, but its stack then sits at a fixed address in its
// static region, where two instances on two threads trample each other; such
// modules are refused here, before anything runs.
//
// Used by the coordinator (every deploy), `cwasi build` (every module it
// writes) and `cwasi inspect` (to say what is wrong).

import { CwasiError } from '../errors.js';
import { REQUIRED_EXPORTS } from '../abi.js';
import type { ModuleInfo } from './inspect.js';

/** The global the build transform exports (asm-functions/rt/export-stack-pointer.mjs). */
export const STACK_POINTER_EXPORT = '__stack_pointer';
/** The mutable limit the stack check compares against; the host sets it per instance (the same transform). */
export const STACK_LIMIT_EXPORT = '__stack_limit';
/** The module initialisation the host runs once per instance (asc --exportStart). */
export const START_EXPORT = '_start';
/** The only import namespaces a guest may use (ABI.md). */
const IMPORT_NAMESPACES = new Set(['cwasi', 'env']);

/** What keeps `module` from being a safe cwasi guest; empty when nothing does. */
export function guestProblems(info: ModuleInfo, module: WebAssembly.Module): string[] {
  const problems: string[] = [];
  const mem = info.memory;
  if (mem === undefined || mem.module !== 'env' || mem.name !== 'memory' || !mem.shared) {
    problems.push('it must import a shared memory as env.memory (built without --importMemory --sharedMemory)');
  }
  const kinds = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const missing = REQUIRED_EXPORTS.filter((e) => kinds.get(e) !== 'function');
  if (missing.length > 0) problems.push(`it does not export ${missing.join(', ')} (not built against the cwasi SDK and runtime)`);
  if (kinds.get(STACK_POINTER_EXPORT) !== 'global') {
    problems.push(`it does not export its shadow stack pointer as ${STACK_POINTER_EXPORT} (built without the cwasi transform): every instance would use one stack in the static region`);
  }
  if (kinds.get(STACK_POINTER_EXPORT) === 'global' && kinds.get(STACK_LIMIT_EXPORT) !== 'global') {
    problems.push(`it does not export its stack limit as ${STACK_LIMIT_EXPORT} (built with an older cwasi transform): a stack overflow would run into the heap instead of trapping`);
  }
  if (info.startSection === true) {
    // Read from the bytes, so found before anything of the module runs.
    problems.push(`it has a start section: code every instantiation runs before the host can give the instance a stack of its own (a cwasi build exports its initialisation as ${START_EXPORT} instead)`);
  }
  if (kinds.get(START_EXPORT) !== 'function') {
    problems.push(`it does not export its initialisation as ${START_EXPORT} (built without --exportStart): it would run before the host gives the instance its own stack`);
  }
  for (const imp of info.imports) {
    if (imp.kind === 'function' && !IMPORT_NAMESPACES.has(imp.module)) {
      problems.push(`it imports ${imp.module}.${imp.name}; only the "cwasi" and "env" namespaces exist`);
    }
  }
  return problems;
}

/** Throws E_WASM_INVALID naming every problem of `module` (see guestProblems). */
export function assertGuestModule(name: string, source: string, info: ModuleInfo, module: WebAssembly.Module): void {
  const problems = guestProblems(info, module);
  if (problems.length === 0) return;
  throw new CwasiError('E_WASM_INVALID', `${name}: ${source} is not a safe cwasi module: ${problems.join('; ')}. Build it with \`cwasi build\``, {
    function: name,
    problems,
  });
}
