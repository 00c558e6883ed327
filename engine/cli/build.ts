// `cwasi build <file.ts...> [--out DIR] [--base N]`: compiles a user's
// functions exactly as the bundled ones are compiled (engine/build/asc.ts),
// places their static regions in the user range above every bundled region
// (engine/memory/layout.ts), checks each result against the guest ABI and
// writes <name>.wasm files.

import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alignRegion, buildFunctions, type BuiltFunction } from '../build/asc.js';
import { CwasiError } from '../errors.js';
import { STATIC_LIMIT, USER_STATIC_BASE } from '../memory/layout.js';
import { formatSize, table } from './format.js';

export interface BuildOptions {
  out: string;
  base?: string;
  json?: boolean;
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
    if (!existsSync(f)) throw new CwasiError('E_CONFIG', `${f}: no such file`);
    if (!f.endsWith('.ts')) throw new CwasiError('E_CONFIG', `${f}: expected an AssemblyScript source file (.ts)`);
  }
  const base = parseBase(o.base);
  const built = await buildFunctions(files, { base, limit: STATIC_LIMIT, baseDir: process.cwd() });
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  for (const b of built) writeFileSync(join(dir, `${b.name}.wasm`), b.wasm);
  const last = built[built.length - 1]!;
  if (o.json === true) {
    out(JSON.stringify({ out: dir, nextBase: nextBase(last), modules: built.map(({ wasm, ...b }) => ({ ...b, file: join(dir, `${b.name}.wasm`), bytes: wasm.length })) }, null, 2));
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
