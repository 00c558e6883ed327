// `cwasi run <workflow> --batch DIR|GLOB|-`: a batch run. Every input goes
// through engine.map (bounded window, per-input failure policy, retries);
// files are read straight into the first function's memory. Results are
// written atomically (a temporary file in the same folder, then a rename), so
// a run killed halfway leaves only complete results, which `--resume` skips.

import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import type { Command } from 'commander';
import { CwasiError, type Engine, type EngineOptions, type IfcMode, type MapInput, type MapResult } from '../index.js';
import * as workloads from '../workloads.js';
import { listFiles } from '../batch/files.js';
import { FRAMINGS, readRecords, type Framing } from '../batch/records.js';
import { createEngine, flagTerms } from './flag-errors.js';
import { formatMs, formatSize, hex32, parsePositiveInt } from './format.js';
import { batchProgress } from './progress.js';

export interface BatchFlags {
  batch?: string;
  out?: string;
  resume?: boolean;
  onError?: string;
  retries?: string;
  framing?: string;
  concurrency?: string;
  threads?: string;
  timeout?: string;
  json?: boolean;
  verbose?: boolean;
  mode?: string[];
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** The flags of `cwasi run` that only a batch (`--batch`) takes, under their own help heading. */
export function addBatchFlags(cmd: Command): Command {
  return cmd
    .optionsGroup('Batch (with --batch):')
    .option('--resume', 'skip inputs whose result file is already in --out')
    .option('--on-error <policy>', 'continue (default) or stop at the first failure')
    .option('--retries <n>', 'extra attempts for failures worth retrying (E_WORKER_DIED, E_TIMEOUT, E_QUEUE_FULL, ...)')
    .option('--framing <lines|length>', "with --batch -: a record per line (default) or u32 LE length-prefixed records");
}

/** What the batch run needs from the `run` command (kept there, shared with single runs). */
export interface RunHelpers<T extends { name: string }> {
  loadTarget(arg: string): T;
  deployTarget(engine: Engine, t: T): Promise<void>;
  parseModes(values: string[] | undefined): Record<string, IfcMode> | undefined;
  cluster: EngineOptions['cluster'] | undefined;
}

/** Suffix of result files: `<out>/<input key>.out`. */
export const RESULT_SUFFIX = '.out';
/** Prefix of result files still being written (never trusted, removed at the next start). */
export const PARTIAL_PREFIX = '.cwasi-partial-';

const MAX_PAYLOAD_BYTES = 1 << 30;

interface Item {
  key: string;
  input: MapInput;
}

export async function runBatch<T extends { name: string }>(arg: string, o: BatchFlags, io: Io, h: RunHelpers<T>): Promise<void> {
  const spec = o.batch!;
  const onError = o.onError ?? 'continue';
  if (onError !== 'continue' && onError !== 'stop') throw new CwasiError('E_CONFIG', `--on-error must be continue or stop, got "${onError}"`);
  const retries = o.retries === undefined ? 0 : Number(o.retries);
  if (!Number.isSafeInteger(retries) || retries < 0) throw new CwasiError('E_CONFIG', `--retries must be a non-negative integer, got "${o.retries}"`);
  const framing = (o.framing ?? 'lines') as Framing;
  if (!FRAMINGS.includes(framing)) throw new CwasiError('E_CONFIG', `--framing must be one of ${FRAMINGS.join(', ')}, got "${o.framing}"`);
  if (o.framing !== undefined && spec !== '-') throw new CwasiError('E_CONFIG', '--framing applies to --batch - (records on stdin)');
  if (o.resume && o.out === undefined) throw new CwasiError('E_CONFIG', '--resume needs --out DIR (it skips inputs whose result file exists)');
  const concurrency = o.concurrency !== undefined ? parsePositiveInt(o.concurrency, '--concurrency') : undefined;
  const timeoutMs = o.timeout !== undefined ? parsePositiveInt(o.timeout, '--timeout') : undefined;
  const modes = h.parseModes(o.mode);
  const outDir = o.out === undefined ? undefined : resolve(o.out);
  const t = h.loadTarget(arg);

  // The inputs: a known list of files (total known, ETA shown), or records from stdin.
  let total: number | undefined;
  let source: AsyncIterable<Item>;
  let skipped = 0;
  let recordBytes = 0;
  const resultPath = (key: string) => join(outDir!, key + RESULT_SUFFIX);
  const done = async (key: string) => outDir !== undefined && o.resume === true && (await stat(resultPath(key)).then((s) => s.isFile(), () => false));
  if (spec === '-') {
    source = (async function* () {
      for await (const r of readRecords(process.stdin, framing, MAX_PAYLOAD_BYTES)) {
        if (await done(r.key)) skipped++;
        else {
          recordBytes += r.bytes.length;
          yield { key: r.key, input: r };
        }
      }
    })();
  } else {
    // listFiles names its argument as the flag's old spelling; the CLI names --batch.
    const files = await flagTerms(() => listFiles(spec), [['--inputs', '--batch']]);
    if (files.length === 0) throw new CwasiError('E_INPUT', `--batch ${spec}: no files`);
    const inside = (dir: string, path: string) => !relative(dir, path).startsWith('..');
    const folder = /[*?[\]{}]/.test(spec) ? undefined : resolve(spec);
    if (outDir !== undefined && ((folder !== undefined && inside(folder, outDir)) || files.some((f) => inside(outDir, f.file)))) {
      throw new CwasiError('E_CONFIG', `--out ${o.out} is inside the inputs: results would become inputs of the next run`);
    }
    const todo: Item[] = [];
    for (const f of files) {
      if (await done(f.key)) skipped++;
      else todo.push({ key: f.key, input: { key: f.key, file: f.file } });
    }
    total = todo.length;
    source = (async function* () {
      yield* todo;
    })();
  }
  if (outDir !== undefined) {
    await mkdir(outDir, { recursive: true });
    await removePartials(outDir);
  }

  const engine = await createEngine({
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads, '--threads') } : {}),
    ...(h.cluster !== undefined ? { cluster: h.cluster } : {}),
  });
  const hist = createHistogram();
  const failures: Array<{ index: number; key: string; code: string; message: string; attempts: number }> = [];
  const lines: Array<{ key: string; bytes: number; sum32: string }> = [];
  let ok = 0;
  let bytesOut = 0;
  let seq = 0;
  let bar = batchProgress(false, total, io.err);
  let fileInputs = engine.stats().fileInputs;
  const started = performance.now();
  try {
    await h.deployTarget(engine, t);
    if (!o.json) io.err(`cwasi run ${arg}: ${total === undefined ? 'records from stdin' : `${total} input${total === 1 ? '' : 's'}`} through "${t.name}"${skipped > 0 ? `, ${skipped} already done` : ''}`);
    bar = batchProgress(!o.json, total, io.err);
    const inputs = (async function* () {
      for await (const item of source) yield item.input;
    })();
    for await (const r of engine.map(t.name, inputs, {
      ordered: outDir === undefined,
      onError,
      retries,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(modes !== undefined ? { modes } : {}),
    })) {
      // Every input carries its key (files and records alike), so nothing here grows with the number of inputs.
      const key = r.key!;
      hist.record(Math.max(1, Math.round(r.latencyMs * 1e6)));
      if (r.error !== undefined) {
        failures.push({ index: r.index, key, code: r.error.code, message: r.error.message, attempts: r.attempts });
        if (!o.json) bar.log(`failed ${key}: ${r.error.code}: ${r.error.message}`);
      } else {
        ok++;
        bytesOut += r.output.length;
        if (outDir !== undefined) {
          await writeAtomically(resultPath(key), r.output, ++seq);
          if (o.verbose && !o.json) bar.log(`done ${key}`, io.out);
        } else if (o.json) {
          lines.push({ key, bytes: r.output.length, sum32: hex32(workloads.checksum(r.output)) });
        } else {
          bar.log(`${key}\t${describe(r)}`, io.out);
        }
      }
      bar.tick();
    }
    fileInputs = engine.stats().fileInputs;
  } finally {
    bar.stop();
    // A run that stopped early leaves stdin unread: let the process exit anyway.
    if (spec === '-') process.stdin.destroy();
    await engine.close();
  }
  const wallMs = performance.now() - started;
  const finished = ok + failures.length;
  const latencyMs = summary(hist, finished);
  const report = {
    schemaVersion: 1,
    target: t.name,
    inputs: spec,
    out: outDir ?? null,
    done: ok,
    failed: failures.length,
    skipped,
    wallMs: Math.round(wallMs * 1000) / 1000,
    throughput: {
      inputsPerSec: round(finished / (wallMs / 1000)),
      // Bytes read: files read into function memory, or records taken from stdin.
      inputBytesPerSec: Math.round((fileInputs.bytes + recordBytes) / (wallMs / 1000)),
      outputBytesPerSec: Math.round(bytesOut / (wallMs / 1000)),
    },
    latencyMs,
    // How the files were read: one read each, straight into the first function's memory.
    fileInputs,
    failures,
    ...(outDir === undefined ? { results: lines } : {}),
  };
  if (o.json) io.out(JSON.stringify(report, null, 2));
  else {
    io.err(`done ${ok}, failed ${failures.length}, skipped ${skipped} in ${formatMs(wallMs)}: ${report.throughput.inputsPerSec} inputs/s, ${formatSize(report.throughput.inputBytesPerSec)}/s in, ${formatSize(report.throughput.outputBytesPerSec)}/s out; per input p50 ${formatMs(latencyMs.p50Ms)}, p99 ${formatMs(latencyMs.p99Ms)}`);
    for (const f of failures.slice(0, 20)) io.err(`  ${f.key}: ${f.code}: ${f.message}`);
    if (failures.length > 20) io.err(`  … and ${failures.length - 20} more (--json lists them all)`);
  }
  if (failures.length > 0) {
    // Exit 1 (a failed input), never the usage-error exit of E_CONFIG.
    const code = failures[0]!.code === 'E_CONFIG' ? 'E_INPUT' : failures[0]!.code as CwasiError['code'];
    throw new CwasiError(code, `${failures.length} of ${finished} inputs failed (first: ${failures[0]!.key}: ${failures[0]!.message})`, { reported: true });
  }
}

function describe(r: MapResult): string {
  const out = r.output!;
  return `${out.length} bytes\tcwasi-sum32 ${hex32(workloads.checksum(out))}`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Latency summary in the engine's shape, from a nanosecond histogram. */
function summary(h: ReturnType<typeof createHistogram>, count: number): { count: number; meanMs: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number } {
  if (count === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  return { count, meanMs: ms(h.mean), p50Ms: ms(h.percentile(50)), p90Ms: ms(h.percentile(90)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
}

/**
 * Write `bytes` to `path` so that `path` exists only complete: a partial file
 * in the same folder, then a rename. A failure (a full disk, a folder that
 * cannot be written) removes the partial file and is E_IO naming the path;
 * results written before it stay, and `--resume` skips them.
 */
export async function writeAtomically(path: string, bytes: Uint8Array, seq: number): Promise<void> {
  const dir = dirname(path);
  const partial = join(dir, `${PARTIAL_PREFIX}${process.pid}-${seq}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(partial, bytes);
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true }).catch(() => {});
    const e = err as NodeJS.ErrnoException;
    throw new CwasiError('E_IO', `cannot write the result ${path}: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message}`);
  }
}

/** Partial results of a run that was killed: never complete, so never kept. */
async function removePartials(dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (e.isFile() && e.name.startsWith(PARTIAL_PREFIX)) {
      // Node 20.12+ names the folder `parentPath`; earlier 20.x `path`.
      const parent = (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir;
      await rm(join(parent, e.name), { force: true });
    }
  }
}
