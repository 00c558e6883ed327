// `cwasi inspect <file.wasm>`: what the engine sees in a module before it runs
// it: imports, exports, the guest ABI version, the static region, whether it
// is a safe cwasi guest and whether it can be embedded beside the bundled
// functions (and, when not, why).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundledFunctionsDir, readManifest } from '../coordinator.js';
import { CwasiError } from '../errors.js';
import { guestProblems } from '../memory/guest-check.js';
import { inspectModule, type ModuleInfo } from '../memory/inspect.js';
import { MAX_PAGES, STATIC_BASE, STATIC_LIMIT } from '../memory/layout.js';

export interface Inspection {
  file: string;
  bytes: number;
  imports: ModuleInfo['imports'];
  exports: Array<{ name: string; kind: string }>;
  memory: ModuleInfo['memory'];
  abiVersion: number | undefined;
  /** [start, end) of its data segments; undefined when it has none. */
  staticRegion: { start: number; end: number } | undefined;
  /** Why it is not a safe cwasi guest (empty when it is). */
  problems: string[];
  /** Why it cannot share a memory with the bundled functions (empty when it can). */
  embedProblems: string[];
}

export function inspectFile(file: string): Inspection {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (err) {
    throw new CwasiError('E_WASM_MISSING', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new CwasiError('E_WASM_INVALID', `${file} is not valid WebAssembly: ${(err as Error).message}`);
  }
  const info = inspectModule(bytes, module);
  const problems = guestProblems(info, module);
  const r = info.staticRegion;
  const region = r.end === 0 ? undefined : { start: r.start, end: r.end };
  const embedProblems: string[] = [];
  if (region !== undefined) {
    if (region.start < STATIC_BASE) embedProblems.push(`static data starts at ${region.start}, inside the memory header (below ${STATIC_BASE})`);
    if (region.end > STATIC_LIMIT) embedProblems.push(`static data ends at ${region.end}, above ${STATIC_LIMIT} where heaps start`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    for (const [name, f] of Object.entries(readManifest(bundledFunctionsDir()))) {
      // The same module twice shares its read-only data (MemoryGroup.admit).
      if (f.sha256 === sha256) continue;
      if (f.staticEnd > f.memoryBase && region.start < f.staticEnd && f.memoryBase < region.end) {
        embedProblems.push(`static data [${region.start}, ${region.end}) overlaps the bundled ${name} [${f.memoryBase}, ${f.staticEnd})`);
      }
    }
  }
  return {
    file,
    bytes: bytes.length,
    imports: info.imports,
    exports: WebAssembly.Module.exports(module).map((e) => ({ name: e.name, kind: e.kind })),
    memory: info.memory,
    abiVersion: problems.length === 0 ? abiVersionOf(module, info) : undefined,
    staticRegion: region,
    problems,
    embedProblems,
  };
}

/**
 * Calls the module's cwasi_abi_version in a throwaway instance. Nothing else
 * runs: `_start` is exported, not a start section, and every host import
 * throws if called.
 */
function abiVersionOf(module: WebAssembly.Module, info: ModuleInfo): number | undefined {
  const mem = info.memory!;
  const memory = new WebAssembly.Memory({ initial: Math.max(mem.initialPages, 1), maximum: mem.maximumPages ?? MAX_PAGES, shared: true });
  const imports: Record<string, Record<string, unknown>> = { env: { memory } };
  for (const imp of info.imports) {
    if (imp.kind !== 'function') continue;
    imports[imp.module] ??= {};
    imports[imp.module]![imp.name] = () => { throw new Error(`${imp.module}.${imp.name} called while inspecting`); };
  }
  try {
    const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
    const fn = instance.exports['cwasi_abi_version'];
    return typeof fn === 'function' ? Number((fn as () => number)()) : undefined;
  } catch {
    return undefined;
  }
}

export function formatInspection(i: Inspection): string {
  const lines = [`${i.file}: ${i.bytes} bytes`];
  lines.push(`  abi version    ${i.abiVersion ?? 'unknown'}`);
  lines.push(`  memory         ${i.memory === undefined ? 'none imported' : `${i.memory.module}.${i.memory.name}${i.memory.shared ? ' shared' : ' NOT shared'}, ${i.memory.initialPages}..${i.memory.maximumPages ?? '∞'} pages`}`);
  lines.push(`  static region  ${i.staticRegion === undefined ? 'none' : `[${i.staticRegion.start}, ${i.staticRegion.end})`}`);
  lines.push(`  imports        ${i.imports.map((x) => `${x.module}.${x.name} (${x.kind})`).join(', ') || 'none'}`);
  lines.push(`  exports        ${i.exports.map((x) => (x.kind === 'function' ? x.name : `${x.name} (${x.kind})`)).join(', ') || 'none'}`);
  lines.push(i.problems.length === 0 ? '  cwasi guest    yes' : `  cwasi guest    NO: ${i.problems.join('; ')}; build it with \`cwasi build\``);
  lines.push(i.embedProblems.length === 0 ? '  embeddable     yes, beside every bundled function' : `  embeddable     NO: ${i.embedProblems.join('; ')}`);
  return lines.join('\n');
}
