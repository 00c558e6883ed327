// What the engine must know about a module given as a compiled
// WebAssembly.Module, whose bytes it cannot read back: its memory import's
// initial size and the extent of its static data. Both are found by
// instantiating it in scratch memories, with every imported function a stub
// that throws:
//
//  - initial pages: the smallest memory the instance links against (a search
//    over page counts; LinkError below the declared initial size);
//  - static region: instantiation writes every active data segment; done
//    twice, into a memory filled with 0x00 and one filled with 0xff, a byte
//    was written exactly when it differs from the fill in either, so the
//    extent is exact even for segments of zeros or of 0xff.
//
// The declared maximum cannot be read; a module that does not link against
// the wasm32 maximum (what `cwasi build` declares) is refused.
//
// Instantiating runs the module's start section, if it has one, and a
// compiled module's sections cannot be read to tell. A cwasi guest has none
// (its bytes are refused when they hold one, memory/guest-check.ts), but one
// given compiled may: a start section that calls an import meets a throwing
// stub, one that loops calls nothing and never returns. So this file is loaded
// only by the probe's worker (memory/probe-worker.ts), which the main thread
// stops at a time bound (memory/probe-runner.ts); it is never imported on the
// main thread (test/engine-layers.test.ts). The same holds for `cwasi
// inspect`'s call of cwasi_abi_version (abiVersionOf below).
//
// What cannot be had without instantiating: the initial size is in the memory
// import's limits, but WebAssembly.Module.imports() gives only names and
// kinds; the data segments are in no custom section. Exports and imports are
// read from the Module without running anything.

import { CwasiError } from '../errors.js';
import type { ModuleInfo, StaticRegion } from './inspect.js';
import { MAX_PAGES, WASM_PAGE } from './layout.js';

/** Largest initial size probed (256 MiB); a cwasi build declares a few pages. */
const PROBE_MAX_PAGES = 4096;

/** Imports for `module`: `memory` for its memory, a throwing stub for every function. */
function stubImports(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ExportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    if (imp.kind === 'memory') imports[imp.module]![imp.name] = memory;
    else if (imp.kind === 'function') imports[imp.module]![imp.name] = () => { throw new Error(`${imp.module}.${imp.name} is not available while probing`); };
  }
  return imports as WebAssembly.Imports;
}

/** Instantiate into a fresh shared memory of `pages` pages filled with `fill`; the memory, or undefined when it does not link. */
function tryInstantiate(module: WebAssembly.Module, pages: number, fill: number): WebAssembly.Memory | undefined {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  if (fill !== 0) new Uint8Array(memory.buffer).fill(fill);
  try {
    new WebAssembly.Instance(module, stubImports(module, memory));
    return memory;
  } catch (err) {
    if (err instanceof WebAssembly.LinkError) return undefined;
    throw new CwasiError('E_WASM_INVALID', `instantiating the module ran code of it (a start section?): ${(err as Error).message}`);
  }
}

/** The smallest page count the module links against. */
function initialPages(module: WebAssembly.Module): number {
  if (tryInstantiate(module, PROBE_MAX_PAGES, 0) === undefined) {
    throw new CwasiError('E_WASM_INVALID', `the module does not link against a shared env.memory of ${PROBE_MAX_PAGES} pages with the wasm32 maximum (build it with \`cwasi build\`)`);
  }
  let lo = 1;
  let hi = PROBE_MAX_PAGES; // links at hi
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tryInstantiate(module, mid, 0) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function writtenExtent(a: Uint8Array, b: Uint8Array): StaticRegion {
  let start = -1;
  let end = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0x00 || b[i] !== 0xff) {
      if (start < 0) start = i;
      end = i + 1;
    }
  }
  return start < 0 ? { start: Infinity, end: 0 } : { start, end };
}

/** ModuleInfo of a compiled module (see the header). Throws E_WASM_INVALID. */
export function probeModule(module: WebAssembly.Module): ModuleInfo {
  const imports = WebAssembly.Module.imports(module).map((i) => ({ module: i.module, name: i.name, kind: i.kind as string }));
  const mem = imports.find((i) => i.kind === 'memory');
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  if (mem === undefined) return { memory: undefined, staticRegion: { start: Infinity, end: 0 }, segments: [], dataSection: undefined, exports, imports, startSection: undefined };
  const pages = initialPages(module);
  const zero = tryInstantiate(module, pages, 0x00)!;
  const ones = tryInstantiate(module, pages, 0xff)!;
  const staticRegion = writtenExtent(new Uint8Array(zero.buffer, 0, pages * WASM_PAGE), new Uint8Array(ones.buffer, 0, pages * WASM_PAGE));
  return {
    memory: { module: mem.module, name: mem.name, initialPages: pages, maximumPages: MAX_PAGES, shared: true },
    staticRegion,
    // A compiled module cannot be rewritten: it keeps its active segments,
    // which every instantiation re-applies (ABI.md, "Static data").
    segments: [],
    dataSection: undefined,
    exports,
    imports,
    startSection: undefined,
  };
}

/**
 * What the module's cwasi_abi_version returns in a throwaway instance on a
 * memory of `initialPages` (undefined when it has no such export or the call
 * traps). Its `_start` is an export and is not called; every host import
 * throws if called.
 */
export function abiVersionOf(module: WebAssembly.Module, initialPages: number, maximumPages: number): number | undefined {
  const memory = new WebAssembly.Memory({ initial: Math.max(initialPages, 1), maximum: maximumPages, shared: true });
  try {
    const instance = new WebAssembly.Instance(module, stubImports(module, memory));
    const fn = instance.exports['cwasi_abi_version'];
    return typeof fn === 'function' ? Number((fn as () => number)()) : undefined;
  } catch {
    return undefined;
  }
}
