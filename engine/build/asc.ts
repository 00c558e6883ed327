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
// A project adds asc options of its own (a library's transform, a wasm
// feature, optimisation levels, --use), as `cwasi build` flags or in an
// explicit --config file; ASC_OPTIONS lists them and mergeAscOptions combines
// the two. What cwasi sets itself (SET_BY_CWASI) is refused from either. asc
// never reads an asconfig.json by itself: every compile names NO_CONFIG, a
// config file that does not exist, so a stray asconfig.json in the current
// folder (and its `entries`, which would add modules) changes nothing.
//
// `import ... from "cwasi/sdk"` is resolved by asc through node_modules
// (node_modules/cwasi/sdk/index.ts). While compiling here, every
// node_modules/cwasi/ path is served from the package that runs the build,
// so the SDK always matches the engine and runtime it is compiled with, also
// inside this repository, where there is no node_modules/cwasi.

import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, sep } from 'node:path';
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
 * The asc config file every compile names: it does not exist (readSource
 * answers null for it), so asc applies no project config by itself.
 */
export const NO_CONFIG = join(PACKAGE_ROOT, '.cwasi-no-asconfig.json');
/** cwasi's optimisation when a project sets none (asc -O3). */
const DEFAULT_OPTIMIZE_LEVEL = 3;
const DEFAULT_SHRINK_LEVEL = 0;

/** A project's asc options, checked (checkAscOptions): what ascArgs adds to the cwasi flags. */
export interface AscOptions {
  /** Transform modules, resolved to absolute paths; they run after the cwasi transform. */
  transform?: string[];
  /** wasm features to enable (never threads: cwasi enables it). */
  enable?: string[];
  /** wasm features to disable (never threads). */
  disable?: string[];
  /** 0..3 (default 3). */
  optimizeLevel?: number;
  /** 0..2 (default 0). */
  shrinkLevel?: number;
  /** NAME=VALUE: a global alias, or an integer constant. */
  use?: string[];
}

/**
 * The asc options a project may set, as `cwasi build` flags (`--name`) or in
 * the `options` of a --config file, with what each does (the help text).
 */
export const ASC_OPTIONS = {
  transform: 'an asc transform to run after the cwasi one: a package name or a path, resolved from the project folder (repeatable)',
  enable: 'enable wasm features, e.g. simd or relaxed-simd (comma list; repeatable)',
  disable: 'disable wasm features asc enables by default, e.g. bulk-memory (comma list; repeatable)',
  optimizeLevel: `how much to optimise for speed, 0-3 (default ${DEFAULT_OPTIMIZE_LEVEL})`,
  shrinkLevel: `how much to optimise for size, 0-2 (default ${DEFAULT_SHRINK_LEVEL})`,
  use: 'alias a global (Math=JSMath) or define an integer constant (FLAG=1) (repeatable)',
} as const satisfies Record<keyof AscOptions, string>;

type AscOptionName = keyof typeof ASC_OPTIONS;

/**
 * What cwasi sets itself, each with what it sets: `cwasi build` refuses every
 * one (E_CONFIG), as a flag and in a --config file's `options`. The keys are
 * written as a user would ask; those of the form `--name` are asc options
 * (REFUSED_ASC_OPTIONS), the threads feature and the cwasi transform are
 * checked inside --enable/--disable and --transform.
 */
export const SET_BY_CWASI = {
  '--runtime': 'the cwasi guest runtime (asm-functions/rt/cwasi-rt.ts)',
  '--importMemory': 'an imported memory: the engine makes every memory',
  '--sharedMemory': 'a shared memory: the worker threads share it',
  '--initialMemory': 'no initial size: the engine sizes every memory',
  '--maximumMemory': `the wasm32 maximum (${MAX_PAGES} pages): the engine enforces the real limit`,
  '--memoryBase': 'where each module\'s static region starts (placement: cwasi build --base)',
  '--exportStart': '_start, which the host runs once the instance has a stack of its own',
  '--exportRuntime': 'the guest ABI exports (asm-functions/ABI.md), not asc\'s runtime helpers',
  '--bindings': 'no JavaScript bindings: the engine instantiates every module',
  '--outFile': '<name>.wasm in the --out folder',
  '--textFile': 'no text output (cwasi inspect shows a module)',
  '--enable/--disable threads': 'the threads feature, enabled: atomics on the shared memory',
  '--transform <the cwasi transform>': 'the stack-pointer transform (asm-functions/rt/export-stack-pointer.mjs), always run first',
} as const;

/** The asc options among SET_BY_CWASI, by name (`runtime`, `importMemory`, ...). */
export const REFUSED_ASC_OPTIONS: readonly string[] = Object.keys(SET_BY_CWASI).filter((k) => /^--\w+$/.test(k)).map((k) => k.slice(2));

/** The feature cwasi enables itself. */
const CWASI_FEATURE = 'threads';

/** The E_CONFIG for asking for `what` (a key of SET_BY_CWASI) as `asked` ("--runtime", "cfg.json: options.runtime"). */
function refused(asked: string, what: keyof typeof SET_BY_CWASI): CwasiError {
  return new CwasiError('E_CONFIG', `${asked}: cwasi sets this itself and it cannot be overridden; cwasi sets ${SET_BY_CWASI[what]}`, { option: asked });
}

/** How an option is named in messages: a flag (`--enable`) or a config key (`cfg.json: options.enable`). */
export type OptionNaming = (option: string) => string;
export const asFlag: OptionNaming = (option) => `--${option}`;
export const inConfig = (file: string): OptionNaming => (option) => `${file}: options.${option}`;

/** `-O<level>` as asc reads it: a speed level 0-3 and/or s (shrink 1) or z (shrink 2): -O3, -Os, -O2z. */
export function parseOptimize(text: string): { optimizeLevel: number; shrinkLevel: number } {
  const m = /^([0-3])?([sz])?$/.exec(text);
  if (m === null || text === '') throw new CwasiError('E_CONFIG', `-O${text}: expected -O0 to -O3, optionally followed by s or z (-O3, -Os, -O2z)`, { option: '-O' });
  return { optimizeLevel: m[1] === undefined ? 0 : Number(m[1]), shrinkLevel: m[2] === 's' ? 1 : m[2] === 'z' ? 2 : 0 };
}

/**
 * A project's asc options checked and made absolute: `raw` holds flag values
 * (strings, lists of strings) or a config's `options` (asc's JSON types);
 * transforms resolve from `baseDir`. E_CONFIG for an option cwasi sets, one
 * cwasi build does not pass to asc, or a bad value; each message names the
 * option as `name` writes it.
 */
export function checkAscOptions(raw: Record<string, unknown>, name: OptionNaming, baseDir: string): AscOptions {
  const out: AscOptions = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (REFUSED_ASC_OPTIONS.includes(key)) throw refused(name(key), `--${key}` as keyof typeof SET_BY_CWASI);
    if (!Object.prototype.hasOwnProperty.call(ASC_OPTIONS, key)) {
      throw new CwasiError('E_CONFIG', `${name(key)}: not an asc option cwasi build passes on (it passes ${Object.keys(ASC_OPTIONS).join(', ')}; it sets ${REFUSED_ASC_OPTIONS.join(', ')} itself)`, { option: name(key) });
    }
    const option = key as AscOptionName;
    switch (option) {
      case 'optimizeLevel':
      case 'shrinkLevel':
        out[option] = level(value, option === 'optimizeLevel' ? 3 : 2, name(option));
        break;
      case 'transform': {
        const list = stringList(value, name(option));
        if (list.length > 0) out.transform = list.map((t) => resolveTransform(t, baseDir, name(option)));
        break;
      }
      case 'enable':
      case 'disable': {
        const list = stringList(value, name(option));
        if (list.includes(CWASI_FEATURE)) throw refused(`${name(option)} ${CWASI_FEATURE}`, '--enable/--disable threads');
        if (list.length > 0) out[option] = list;
        break;
      }
      case 'use': {
        const list = stringList(value, name(option));
        const bad = list.find((u) => !/^\s*[^=\s][^=]*=\s*\S/.test(u));
        if (bad !== undefined) throw new CwasiError('E_CONFIG', `${name(option)} ${bad}: expected NAME=VALUE (e.g. Math=JSMath, or FLAG=1)`, { option: name(option) });
        if (list.length > 0) out.use = list;
        break;
      }
    }
  }
  const both = (out.enable ?? []).find((f) => (out.disable ?? []).includes(f));
  if (both !== undefined) throw new CwasiError('E_CONFIG', `${name('enable')} and ${name('disable')} both name ${both}`, { option: name('enable') });
  return out;
}

/** A list option's values: a string or a list of strings, each possibly a comma list (as asc reads them). */
function stringList(value: unknown, asked: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  if (!items.every((v): v is string => typeof v === 'string')) throw new CwasiError('E_CONFIG', `${asked}: expected a string or a list of strings`, { option: asked });
  return items.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function level(value: unknown, max: number, asked: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CwasiError('E_CONFIG', `${asked} ${String(value)}: expected an integer from 0 to ${max}`, { option: asked });
  return n;
}

/**
 * A transform named by a project, as an absolute path: a path (./t.mjs,
 * /abs/t.mjs) from `baseDir`, a package name (json-as, json-as/transform) as
 * Node resolves it from `baseDir`'s node_modules. The cwasi transform is
 * refused: it always runs, first.
 */
function resolveTransform(spec: string, baseDir: string, asked: string): string {
  let path: string;
  try {
    path = createRequire(join(resolve(baseDir), 'noop.js')).resolve(spec);
  } catch (err) {
    throw new CwasiError('E_CONFIG', `${asked} ${spec}: not found from ${resolve(baseDir)} (install the package there, or give a path to the module)`, { option: asked, transform: spec }, { cause: err });
  }
  if (realpathSync(path) === realpathSync(TRANSFORM)) throw refused(`${asked} ${spec}`, '--transform <the cwasi transform>');
  return path;
}

/**
 * `over`'s options on top of `base`'s (flags over a --config file): a level
 * set in both is `over`'s; lists are joined, and a feature one enables is
 * dropped from the other's disable list (and the reverse).
 */
export function mergeAscOptions(base: AscOptions, over: AscOptions): AscOptions {
  const join = (a: string[] | undefined, b: string[] | undefined, drop: string[] = []): string[] | undefined => {
    const all = [...new Set([...(a ?? []).filter((x) => !drop.includes(x)), ...(b ?? [])])];
    return all.length > 0 ? all : undefined;
  };
  const merged: AscOptions = {
    transform: join(base.transform, over.transform),
    enable: join(base.enable, over.enable, over.disable),
    disable: join(base.disable, over.disable, over.enable),
    optimizeLevel: over.optimizeLevel ?? base.optimizeLevel,
    shrinkLevel: over.shrinkLevel ?? base.shrinkLevel,
    use: join(base.use, over.use),
  };
  for (const k of Object.keys(merged) as Array<keyof AscOptions>) if (merged[k] === undefined) delete merged[k];
  return merged;
}

/**
 * A project's asc config file (asconfig.json), read only when named by
 * --config: its `options` are checked like flags, with transforms resolved
 * from the file's folder. Its `entries` never add modules to a cwasi build
 * (ignored); `targets` and `extends` are refused, being settings cwasi build
 * would not apply. E_CONFIG for a missing or malformed file.
 */
export function readAscConfig(file: string, baseDir: string): AscOptions {
  const path = resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CwasiError('E_CONFIG', `--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { config: file }, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CwasiError('E_CONFIG', `--config ${file}: not valid JSON (${(err as Error).message})`, { config: file }, { cause: err });
  }
  if (!isPlainObject(doc)) throw new CwasiError('E_CONFIG', `--config ${file}: expected a JSON object with "options"`, { config: file });
  for (const key of ['targets', 'extends']) {
    if (doc[key] !== undefined) throw new CwasiError('E_CONFIG', `${file}: "${key}": cwasi build applies only a config's "options" (move what you need there)`, { config: file });
  }
  const options = doc['options'] ?? {};
  if (!isPlainObject(options)) throw new CwasiError('E_CONFIG', `${file}: "options" must be an object`, { config: file });
  return checkAscOptions(options, inConfig(file), dirname(path));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The asc command line of one function at `memoryBase`: the cwasi flags, then
 * a project's `options` (checked by checkAscOptions). The imported memory is
 * declared with the wasm32 maximum; the engine sets the real one.
 */
export function ascArgs(source: string, memoryBase: number, outFile = 'out.wasm', options: AscOptions = {}): string[] {
  return [
    source,
    '--config', NO_CONFIG,
    '--outFile', outFile,
    '--importMemory', '--sharedMemory',
    '--maximumMemory', String(MAX_PAGES),
    '--enable', CWASI_FEATURE,
    '--memoryBase', String(memoryBase),
    '--runtime', RUNTIME,
    '--exportStart', '_start',
    '--transform', TRANSFORM,
    '--optimizeLevel', String(options.optimizeLevel ?? DEFAULT_OPTIMIZE_LEVEL),
    '--shrinkLevel', String(options.shrinkLevel ?? DEFAULT_SHRINK_LEVEL),
    '--noAssert', '--noColors',
    ...(options.transform ?? []).flatMap((t) => ['--transform', t]),
    ...(options.enable ?? []).flatMap((f) => ['--enable', f]),
    ...(options.disable ?? []).flatMap((f) => ['--disable', f]),
    ...(options.use ?? []).flatMap((u) => ['--use', u]),
  ];
}

interface AscApi {
  version: string;
  /** The standard library's sources by path under ~lib/ (asc reads them from here). */
  libraryFiles: Record<string, string>;
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
    threadSafeFloatFormat(asc.libraryFiles);
    return asc;
  })();
  return ascModule;
}

/**
 * The standard library's float-to-string conversion (`dtoa` in
 * ~lib/util/number) writes its digits into `dtoa_buf`, a static buffer: one
 * copy per memory, which a function's instances on several workers share, so
 * two calls printing floats at once on two threads would mix their digits.
 * The compiler's copy of that file is changed, once per process, to take the
 * scratch from the calling instance's heap (`__alloc`/`__free`: the cwasi
 * runtime's allocator is per instance; under asc's own runtime it is its
 * TLSF). What is printed is unchanged. The text replaced is checked: another
 * assemblyscript version that no longer has it fails the build loudly
 * instead of compiling the shared buffer back in.
 */
const DTOA_SHARED = `  let size = dtoa_core(dtoa_buf, value, isSingle) << 1;
  let result = changetype<String>(__new(size, idof<String>()));
  memory.copy(changetype<usize>(result), dtoa_buf, size);
  return result;`;
const DTOA_PER_INSTANCE = `  let buf = __alloc(MAX_DOUBLE_LENGTH << 1);
  let size = dtoa_core(buf, value, isSingle) << 1;
  let result = changetype<String>(__new(size, idof<String>()));
  memory.copy(changetype<usize>(result), buf, size);
  __free(buf);
  return result;`;

export function threadSafeFloatFormat(libraryFiles: Record<string, string>): void {
  const source = libraryFiles['util/number'];
  if (source === undefined) throw new CwasiError('E_INTERNAL', 'assemblyscript has no ~lib/util/number to build a thread-safe float conversion from');
  if (source.includes(DTOA_PER_INSTANCE)) return;
  if (!source.includes(DTOA_SHARED)) {
    throw new CwasiError('E_INTERNAL', "assemblyscript's ~lib/util/number changed: cwasi cannot move its float-formatting scratch out of static data");
  }
  libraryFiles['util/number'] = source.replace(DTOA_SHARED, DTOA_PER_INSTANCE);
}

const CWASI_IN_NODE_MODULES = `${sep}node_modules${sep}cwasi${sep}`;

/** asc's file reader, with node_modules/cwasi/ served from this package (also the plain-asc reference's, bench/plain-asc.ts). */
export async function readSource(name: string, baseDir: string): Promise<string | null> {
  let path = resolve(baseDir, name);
  if (path === NO_CONFIG) return null;
  const at = path.lastIndexOf(CWASI_IN_NODE_MODULES);
  if (at >= 0) path = join(PACKAGE_ROOT, path.slice(at + CWASI_IN_NODE_MODULES.length));
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Compile one function at `memoryBase` with a project's asc `options`;
 * resolves with the wasm bytes. Throws E_BUILD with asc's diagnostics when
 * the code does not compile.
 */
export async function compileFunction(source: string, memoryBase: number, baseDir = process.cwd(), options: AscOptions = {}): Promise<Uint8Array> {
  return compileWith(ascArgs(source, memoryBase, 'out.wasm', options), baseDir);
}

/** asc's failures that come from an option's value, not from the code: E_CONFIG rather than E_BUILD. */
const ASC_OPTION_FAILURE = /^(Feature '.*' is unknown\.|Global alias '.*' is invalid\.|not a transform: )/;

/**
 * Run asc with `args` (an ascArgs list, possibly altered) and the cwasi
 * package resolution. A list without --config still gets NO_CONFIG: asc never
 * picks up an asconfig.json by itself.
 */
export async function compileWith(args: string[], baseDir = process.cwd()): Promise<Uint8Array> {
  const source = args[0] ?? '';
  if (!args.includes('--config')) args = [...args, '--config', NO_CONFIG];
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
  if (error) {
    if (ASC_OPTION_FAILURE.test(error.message)) throw new CwasiError('E_CONFIG', `asc refused an option building ${source}: ${error.message}`, { source });
    const diagnostics = stderr.join('').trim() || error.message;
    throw new CwasiError('E_BUILD', `asc could not compile ${source}:\n${diagnostics}`, { source, diagnostics });
  }
  if (wasm === undefined) throw new CwasiError('E_BUILD', `asc produced no wasm for ${source}`, { source });
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
 * at or below `limit`; every module must pass the guest check. `asc` holds a
 * project's asc options (checked), the same for every module.
 */
export async function buildFunctions(sources: string[], opts: { base: number; limit: number; baseDir?: string; asc?: AscOptions }): Promise<BuiltFunction[]> {
  const names = new Set<string>();
  const built: BuiltFunction[] = [];
  let next = alignRegion(opts.base);
  for (const source of sources) {
    const name = basename(source).replace(/\.ts$/, '');
    if (names.has(name)) throw new CwasiError('E_CONFIG', `two sources are named ${name}.ts; each module of a build needs its own name`);
    names.add(name);
    const memoryBase = next;
    const wasm = await compileFunction(source, memoryBase, opts.baseDir, opts.asc);
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
