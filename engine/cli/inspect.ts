// `cwasi inspect <file.wasm>`: what the engine sees in a module before it runs
// it: imports, exports, the guest ABI version, the static region, whether it
// is a safe cwasi guest, whether it can be embedded beside the bundled
// functions (and, when not, why), and whether it streams. Everything but the ABI version is read from
// the bytes; that one is a call into the module, made in a worker stopped at a
// time bound (memory/probe-runner.ts), never on this thread.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundledFunctionsDir, readManifest } from '../coordinator.js';
import { CwasiError } from '../errors.js';
import { guestProblems } from '../memory/guest-check.js';
import { inspectModule, type ModuleInfo } from '../memory/inspect.js';
import { MAX_PAGES, STATIC_BASE, STATIC_LIMIT } from '../memory/layout.js';
import { abiVersionInWorker } from '../memory/probe-runner.js';
import { streamRoles } from '../dispatch/stream-roles.js';

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
  /** Whether it reads its input and writes its output as streams (imports cwasi.stream_read / stream_write). */
  streams: { reads: boolean; writes: boolean };
}

/** What the engine sees in `file`. E_IO (unreadable), E_WASM_INVALID (not wasm), E_TIMEOUT (cwasi_abi_version does not return). */
export async function inspectFile(file: string): Promise<Inspection> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (err) {
    throw new CwasiError('E_IO', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file }, { cause: err });
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
    // Only a module that passed the checks is run at all (its start section,
    // if it had one, would be among the problems).
    abiVersion: problems.length === 0 ? await abiVersionInWorker(module, info.memory!.initialPages, info.memory!.maximumPages ?? MAX_PAGES, file) : undefined,
    staticRegion: region,
    problems,
    embedProblems,
    streams: streamRoles(module),
  };
}

/** Throws E_WASM_INVALID when the engine would refuse the module (after the report says why). */
export function assertInspectedGuest(i: Inspection): void {
  if (i.problems.length === 0) return;
  throw new CwasiError('E_WASM_INVALID', `${i.file} is not a safe cwasi module: ${i.problems.join('; ')}. Build it with \`cwasi build\``, { problems: i.problems });
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
  const { reads, writes } = i.streams;
  lines.push(`  streams        ${reads || writes ? [reads ? 'reads its input as a stream' : '', writes ? 'writes its output as a stream' : ''].filter((x) => x !== '').join(', ') : 'no (whole payloads)'}`);
  return lines.join('\n');
}
