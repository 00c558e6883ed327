// `cwasi build <file.ts...> [--out DIR] [--base N] [asc options]`: compiles a
// user's functions exactly as the bundled ones are compiled
// (engine/build/asc.ts), plus the asc options the project asks for (a
// library's transform, a feature, levels, --use, an explicit --config file),
// places their static regions in the user range above every bundled region
// (engine/memory/layout.ts), checks each result against the guest ABI and
// writes <name>.wasm files. The flags that name asc options take asc's
// spelling (--optimizeLevel, not --optimize-level), as a user copies them
// from a library's instructions.

import { Command, Option } from 'commander';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  alignRegion, ASC_OPTIONS, asFlag, buildFunctions, checkAscOptions, mergeAscOptions, parseOptimize, readAscConfig,
  REFUSED_ASC_OPTIONS, SET_BY_CWASI, type AscOptions, type BuiltFunction,
} from '../build/asc.js';
import { CwasiError } from '../errors.js';
import { STATIC_LIMIT, USER_STATIC_BASE } from '../memory/layout.js';
import { formatSize, table } from './format.js';
import { jsonDocument } from './json.js';

export interface BuildOptions {
  out: string;
  base?: string;
  json?: boolean;
  /** An explicit asc config file; its `options` apply under the flags. */
  config?: string;
  transform?: string[];
  enable?: string[];
  disable?: string[];
  /** -O<level>: 0-3 and/or s, z. */
  O?: string;
  optimizeLevel?: string;
  shrinkLevel?: string;
  use?: string[];
  /** The options cwasi sets (REFUSED_ASC_OPTIONS), parsed only to be refused by name. */
  [refused: string]: unknown;
}

const collect = (v: string, acc: string[] = []): string[] => [...acc, v];
/** The options of SET_BY_CWASI that asc takes without a value. */
const ASC_SWITCHES = new Set(['importMemory', 'sharedMemory', 'exportRuntime']);

/** The `cwasi build` flags: output, placement, and the asc options a project may pass (engine/build/asc.ts). */
export function addBuildFlags(cmd: Command): Command {
  cmd
    .option('--out <dir>', 'where to write <name>.wasm', 'build')
    .option('--json', 'print JSON on stdout instead of a table')
    .addOption(new Option('--base <n>', 'first static region of this build (default and lowest: the start of the user range)').helpGroup('Placement:'));
  const asc = 'asc options (passed to the compiler for every module of the build):';
  cmd
    .addOption(new Option('--config <asconfig.json>', 'apply this asc config file\'s "options" (under the flags); no config file is read unless named').helpGroup(asc))
    .addOption(new Option('--transform <module>', ASC_OPTIONS.transform).argParser(collect).helpGroup(asc))
    .addOption(new Option('--enable <features>', ASC_OPTIONS.enable).argParser(collect).helpGroup(asc))
    .addOption(new Option('--disable <features>', ASC_OPTIONS.disable).argParser(collect).helpGroup(asc))
    .addOption(new Option('-O <level>', 'optimisation as asc reads -O: 0-3, s, z or both (-O3, -Os, -O2z; default -O3)').helpGroup(asc))
    .addOption(new Option('--optimizeLevel <n>', ASC_OPTIONS.optimizeLevel).helpGroup(asc))
    .addOption(new Option('--shrinkLevel <n>', ASC_OPTIONS.shrinkLevel).helpGroup(asc))
    .addOption(new Option('--use <NAME=VALUE>', ASC_OPTIONS.use).argParser(collect).helpGroup(asc));
  // Accepted only to be refused by name (E_CONFIG), rather than as "unknown option";
  // asc's switches take no value, so `--importMemory fn.ts` keeps fn.ts a source.
  for (const name of REFUSED_ASC_OPTIONS) cmd.addOption(new Option(ASC_SWITCHES.has(name) ? `--${name}` : `--${name} [value]`).hideHelp());
  cmd.addHelpText('after', `\ncwasi sets these itself and refuses them, as flags and in a --config file:\n${
    Object.entries(SET_BY_CWASI).map(([asked, sets]) => `  ${asked.padEnd(36)}${sets}`).join('\n')}`);
  return cmd;
}

/**
 * The asc options of a build: the flags, on top of the --config file's
 * `options` when one is named. Transforms resolve from `baseDir` (the
 * project); a config's from its own folder.
 */
export function ascOptionsOf(o: BuildOptions, baseDir: string): AscOptions {
  const raw: Record<string, unknown> = {};
  for (const name of REFUSED_ASC_OPTIONS) raw[name] = o[name];
  const levels = o.O === undefined ? undefined : parseOptimize(o.O);
  Object.assign(raw, {
    transform: o.transform,
    enable: o.enable,
    disable: o.disable,
    optimizeLevel: o.optimizeLevel ?? levels?.optimizeLevel,
    shrinkLevel: o.shrinkLevel ?? levels?.shrinkLevel,
    use: o.use,
  });
  const flags = checkAscOptions(raw, asFlag, baseDir);
  return o.config === undefined ? flags : mergeAscOptions(readAscConfig(o.config, baseDir), flags);
}

export function parseBase(text: string | undefined): number {
  if (text === undefined) return USER_STATIC_BASE;
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < USER_STATIC_BASE || n >= STATIC_LIMIT) {
    throw new CwasiError('E_CONFIG', `--base ${text}: must be an integer in [${USER_STATIC_BASE}, ${STATIC_LIMIT}), the range reserved for user modules (below it lie the bundled functions)`);
  }
  return n;
}

/** The sources named: files as given, folders as their .ts files in name order. */
function expandSources(args: string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (existsSync(a) && statSync(a).isDirectory()) {
      const inDir = readdirSync(a).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort().map((f) => join(a, f));
      if (inDir.length === 0) throw new CwasiError('E_CONFIG', `${a}: no .ts files in this folder`);
      files.push(...inDir);
    } else {
      files.push(a);
    }
  }
  return files;
}

export async function cmdBuild(args: string[], o: BuildOptions, out: (s: string) => void): Promise<BuiltFunction[]> {
  const files = expandSources(args);
  if (files.length === 0) throw new CwasiError('E_CONFIG', 'name at least one AssemblyScript file to build');
  for (const f of files) {
    if (!existsSync(f)) throw new CwasiError('E_IO', `${f}: no such file or directory`, { file: f });
    if (!f.endsWith('.ts')) throw new CwasiError('E_CONFIG', `${f}: expected an AssemblyScript source file (.ts)`);
  }
  const base = parseBase(o.base);
  const asc = ascOptionsOf(o, process.cwd());
  const built = await buildFunctions(files, { base, limit: STATIC_LIMIT, baseDir: process.cwd(), asc });
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  for (const b of built) writeFileSync(join(dir, `${b.name}.wasm`), b.wasm);
  const last = built[built.length - 1]!;
  if (o.json === true) {
    out(jsonDocument({ out: dir, nextBase: nextBase(last), modules: built.map(({ wasm, ...b }) => ({ ...b, file: join(dir, `${b.name}.wasm`), bytes: wasm.length })) }));
  } else {
    out(table(['module', 'source', 'static region', 'size', 'sha256'], built.map((b) => [
      `${b.name}.wasm`, b.source, `[${b.memoryBase}, ${b.staticEnd})`, formatSize(b.wasm.length), b.sha256.slice(0, 12),
    ])));
    out(`wrote ${built.length} module${built.length === 1 ? '' : 's'} to ${dir}; a separate build to embed beside these: --base ${nextBase(last)}`);
  }
  return built;
}

function nextBase(last: BuiltFunction): number {
  return alignRegion(Math.max(last.staticEnd, last.memoryBase + 1));
}
