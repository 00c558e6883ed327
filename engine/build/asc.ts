// How a cwasi function is compiled: the one place that holds the asc flags, the
// runtime and the transform, used by build.mjs for the bundled functions and
// by `cwasi build` for a user's, so the two cannot drift apart.
//
// Static regions (engine/memory/layout.ts): modules of one build are placed
// one after the other from a base, each at a REGION_ALIGN boundary. A
// module's static size does not depend on its base (segments keep their
// sizes; only the addresses inside them move), so one compile per module
// at its final base is enough.
//
// `import ... from "cwasi/sdk"` is resolved by asc through node_modules
// (node_modules/cwasi/sdk/index.ts). While compiling here, every
// node_modules/cwasi/ path is served from the package that runs the build,
// so the SDK always matches the engine and runtime it is compiled with, also
// inside this repository, where there is no node_modules/cwasi.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CwasiError } from '../errors.js';
import { assertGuestModule } from '../memory/guest-check.js';
import { inspectModule } from '../memory/inspect.js';
import { MAX_PAGES } from '../memory/layout.js';

/** Root of the cwasi package (dist/engine/build/ → ../../..). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The guest runtime (asc takes it without its .ts suffix). */
export const RUNTIME = join(PACKAGE_ROOT, 'asm-functions', 'rt', 'cwasi-rt');
/** The transform that exports the shadow stack pointer. */
export const TRANSFORM = join(PACKAGE_ROOT, 'asm-functions', 'rt', 'export-stack-pointer.mjs');
/** Alignment of each static region (bytes). */
export const REGION_ALIGN = 64;
/**
 * The version of assemblyscript the runtime and SDK are written for: the one
 * package.json pins as an optional peer dependency. The compiler (with
 * binaryen, ~100 MiB) is needed only to build functions, so an engine-only
 * install stays small; a project that builds functions (`cwasi init` makes
 * one) lists it among its devDependencies.
 */
export function pinnedAscVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
  return pkg.peerDependencies?.['assemblyscript'] ?? 'unknown';
}

/**
 * The asc command line of one function at `memoryBase`. The imported memory
 * is declared with the wasm32 maximum; the engine sets the real one.
 */
export function ascArgs(source: string, memoryBase: number, outFile = 'out.wasm'): string[] {
  return [
    source,
    '--outFile', outFile,
    '--importMemory', '--sharedMemory',
    '--maximumMemory', String(MAX_PAGES),
    '--enable', 'threads',
    '--memoryBase', String(memoryBase),
    '--runtime', RUNTIME,
    '--exportStart', '_start',
    '--transform', TRANSFORM,
    '-O3', '--noAssert',
  ];
}

interface AscApi {
  version: string;
  main(args: string[], options: {
    baseDir?: string;
    stdout?: { write(s: unknown): boolean };
    stderr?: { write(s: unknown): boolean };
    readFile?: (name: string, baseDir: string) => Promise<string | null>;
    writeFile?: (name: string, contents: Uint8Array | string, baseDir: string) => void;
  }): Promise<{ error: Error | null }>;
}

let ascModule: Promise<AscApi> | undefined;

/** The AssemblyScript compiler, loaded on first use (it is large) and checked against the pinned version. */
async function loadAsc(): Promise<AscApi> {
  ascModule ??= (async () => {
    const pinned = pinnedAscVersion();
    let asc: AscApi;
    try {
      asc = (await import('assemblyscript/asc')).default as unknown as AscApi;
    } catch (err) {
      throw new CwasiError('E_DEPENDENCY_MISSING', `building functions needs the AssemblyScript compiler, which is not installed: npm install --save-dev assemblyscript@${pinned}`, { package: 'assemblyscript', version: pinned }, { cause: err });
    }
    if (asc.version !== pinned) {
      throw new CwasiError('E_CONFIG', `assemblyscript ${asc.version} is installed; cwasi's runtime and SDK need ${pinned}`);
    }
    return asc;
  })();
  return ascModule;
}

const CWASI_IN_NODE_MODULES = `${sep}node_modules${sep}cwasi${sep}`;

/** asc's file reader, with node_modules/cwasi/ served from this package. */
async function readSource(name: string, baseDir: string): Promise<string | null> {
  let path = resolve(baseDir, name);
  const at = path.lastIndexOf(CWASI_IN_NODE_MODULES);
  if (at >= 0) path = join(PACKAGE_ROOT, path.slice(at + CWASI_IN_NODE_MODULES.length));
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Compile one function at `memoryBase`; resolves with the wasm bytes. Throws E_CONFIG with asc's diagnostics. */
export async function compileFunction(source: string, memoryBase: number, baseDir = process.cwd()): Promise<Uint8Array> {
  return compileWith(ascArgs(source, memoryBase), baseDir);
}

/** Run asc with `args` (an ascArgs list, possibly altered) and the cwasi package resolution. */
export async function compileWith(args: string[], baseDir = process.cwd()): Promise<Uint8Array> {
  const source = args[0] ?? '';
  const asc = await loadAsc();
  let wasm: Uint8Array | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main(args, {
    baseDir,
    stdout: { write: () => true },
    stderr: { write: (chunk) => { stderr.push(String(chunk)); return true; } },
    readFile: readSource,
    writeFile: (name, contents) => { if (name.endsWith('.wasm') && typeof contents !== 'string') wasm = contents; },
  });
  if (error) throw new CwasiError('E_CONFIG', `asc failed for ${source}:\n${stderr.join('')}${error.message}`, { source });
  if (wasm === undefined) throw new CwasiError('E_CONFIG', `asc produced no wasm for ${source}`, { source });
  return wasm;
}

export interface BuiltFunction {
  /** File name without directory and .ts suffix. */
  name: string;
  source: string;
  wasm: Uint8Array;
  /** The module's static region: [memoryBase, staticEnd). */
  memoryBase: number;
  staticEnd: number;
  sha256: string;
}

/**
 * Compile `sources` in order, each at the next REGION_ALIGN boundary after
 * the previous one's static data, starting at `base`. Every region must end
 * at or below `limit`; every module must pass the guest check.
 */
export async function buildFunctions(sources: string[], opts: { base: number; limit: number; baseDir?: string }): Promise<BuiltFunction[]> {
  const names = new Set<string>();
  const built: BuiltFunction[] = [];
  let next = alignRegion(opts.base);
  for (const source of sources) {
    const name = basename(source).replace(/\.ts$/, '');
    if (names.has(name)) throw new CwasiError('E_CONFIG', `two sources are named ${name}.ts; each module of a build needs its own name`);
    names.add(name);
    const memoryBase = next;
    const wasm = await compileFunction(source, memoryBase, opts.baseDir);
    const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    const info = inspectModule(wasm, module);
    assertGuestModule(name, source, info, module);
    const r = info.staticRegion;
    if (r.end !== 0 && r.start < memoryBase) throw new CwasiError('E_INTERNAL', `${source}: static data starts at ${r.start}, below its base ${memoryBase}`);
    const staticEnd = r.end === 0 ? memoryBase : r.end;
    if (staticEnd > opts.limit) {
      throw new CwasiError('E_CONFIG', `${source}: static region [${memoryBase}, ${staticEnd}) ends above ${opts.limit}, the end of the range it must fit in (fewer or smaller modules per build, or a lower --base)`, { source });
    }
    built.push({ name, source, wasm, memoryBase, staticEnd, sha256: createHash('sha256').update(wasm).digest('hex') });
    next = alignRegion(Math.max(staticEnd, memoryBase + 1));
  }
  return built;
}

export function alignRegion(n: number): number {
  return Math.ceil(n / REGION_ALIGN) * REGION_ALIGN;
}
