// `cwasi bench <name>`: the catalog of benchmarks and the command that runs one.
//
// The catalog holds what `--help` prints (name, description, default sizes)
// and, per benchmark, a loader that imports its module (dist/bench/...) only
// when that benchmark runs. Nothing in this file imports benchmark code at load
// time, so `cwasi run`, `cwasi node` and `cwasi --help` never load the
// benchmarks or what they pull in (Piscina fixtures, the cluster harness, the
// paper report); test/cli-lazy-bench.test.ts records the loaded modules to
// prove it.
//
// The benchmarks are built on the engine's public API, so they depend on the
// engine and not the other way round: this file knows them only through the
// contract in bench-report.ts, and finds their modules by path at run time.

import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { contend } from './contend.js';
import { addRenamedFlag, LEGACY_BENCH_JSON } from './deprecated.js';
import { examples, helpHere } from './help.js';
import { CwasiError } from '../errors.js';
import type { Benchmark, BenchOptions, BenchReport } from './bench-report.js';
import { checkWritable, checkWritableDir, makeDir, writeArg } from './files.js';
import { formatMs, formatSize, helpItem, parseLinkRate, parseNonNegativeInt, parsePositiveInt, parseSizes, table } from './format.js';
import { jsonDocument } from './json.js';
import { progress } from './progress.js';
import type { Out } from './report.js';

export interface BenchDefinition {
  description: string;
  /** `--sizes` when none is given; undefined where the benchmark picks its own. */
  defaultSizes?: string;
  /** Takes `--threads 1,2,4` (a list of pool sizes measured in one run). */
  sweepsThreads?: true;
  /** Takes `--experiments`: the names of the experiments it can run alone. */
  experiments?: readonly string[];
  /** Takes `--netns` and `--link` (its processes can run in network namespaces). */
  crossesHosts?: true;
  /** Imports the benchmark's module and returns its entry point. */
  load(): Promise<Benchmark>;
}

/** The entry point `name` of the benchmark module `file` (dist/bench/file), imported now. */
async function loadBench(file: string, name: string): Promise<Benchmark> {
  const mod = (await import(new URL(`../../bench/${file}`, import.meta.url).href)) as Record<string, unknown>;
  const entry = mod[name];
  if (typeof entry !== 'function') throw new CwasiError('E_INTERNAL', `dist/bench/${file} has no benchmark ${name}`);
  return entry as Benchmark;
}

export const BENCHES: Readonly<Record<string, BenchDefinition>> = {
  overhead: {
    description: 'a trivial function through the engine vs a trivial raw Piscina task (goals: >= 1.0x raw throughput at 1 and 64 in flight, p50 <= raw)',
    load: () => loadBench('overhead.js', 'overhead'),
  },
  'local-buffer': {
    description: 'a payload between functions in two workers: local (descriptor), local-stream, copy, beside one memcpy (goals: 100 MiB at >= 80% of memcpy, streamed >= 90%, 2 MiB p50 < 1 ms)',
    defaultSizes: '2MiB,16MiB,100MiB',
    load: () => loadBench('local-buffer.js', 'localBuffer'),
  },
  embedding: {
    description: 'handoff between trusted functions sharing one memory (zero copy), beside local and copy, and a raw Piscina dispatch after a run as long as the producer\'s (goals: p50 < 50 µs at 2 MiB and 100 MiB, a consumer dispatched as its own task <= 25 µs and <= that reference)',
    defaultSizes: '2MiB,100MiB',
    load: () => loadBench('embedding.js', 'embedding'),
  },
  networked: {
    description: 'payloads between functions on two node processes over the Networked Buffer, beside raw TCP (one process, two processes, iperf3 when installed) and the Redis baseline (goals: >= 80% of raw-tcp and >= 90% of the two-process references at 100 MiB, >= 3x remote-kv at 2 MiB); --netns puts the nodes and Redis in three network namespaces, --link 1gbit shapes their links (goal: >= 90% of the link rate)',
    defaultSizes: '2MiB,100MiB',
    crossesHosts: true,
    load: () => loadBench('networked.js', 'networked'),
  },
  batch: {
    description: 'N inputs through producer → transform (embedded) → checksum (local) with engine.map, beside a Piscina pool running the same wasm kernels stage by stage (postMessage, transferList); threads 1 vs N; peak RSS with N vs 4N inputs (goals: >= 5x Piscina at 2 MiB, >= 1.7x from 1 to 2 threads, RSS <= 1.2x)',
    defaultSizes: '64KiB,2MiB',
    sweepsThreads: true,
    load: () => loadBench('batch.js', 'batch'),
  },
  alloc: {
    description: 'allocation-heavy guest code (parse a JSON document into objects and serialise it again) under the cwasi runtime vs the same source under plain asc, same process (goal: >= 0.90 of plain asc\'s guest throughput)',
    defaultSizes: '4KiB,256KiB',
    load: () => loadBench('alloc.js', 'alloc'),
  },
  service: {
    description: 'a service\'s small calls alone and beside one large call in the same engine: their latency and this thread\'s event-loop delay (goals, beside 512 MiB: loop delay max <= max(20 ms, 2x alone), small-call p99 <= max(5 ms, 2x alone))',
    defaultSizes: '512MiB',
    load: () => loadBench('service.js', 'service'),
  },
  stream: {
    description: 'a three-stage chain (producer → transform → checksum) streamed and whole-payload, embedded and local, at 100 MiB, 1 GiB and 6 GiB: makespan, the slowest stage alone, peak RSS (goals: streamed makespan <= 1.3x the slowest stage at 1 GiB; at 6 GiB streamed rows under 1.5 GiB of RSS, whole-payload rows refused naming streams)',
    defaultSizes: '100MiB,1GiB,6GiB',
    load: () => loadBench('stream.js', 'stream'),
  },
  'stack-check': {
    description: 'cost of the per-instance shadow-stack limit check on the bundled kernels, against the constant check asc emits (goal: >= 0.95 of its throughput)',
    defaultSizes: '256KiB',
    load: () => loadBench('stack-check.js', 'stackCheck'),
  },
  paper: {
    description: "the CWASI paper's experiments (sequential, fan-out, fan-in, fan-out by size, cross-node) for every mode, beside the published numbers; --out DIR writes SVG plots and an HTML page",
    sweepsThreads: true,
    experiments: ['sequential', 'fan-out', 'fan-in', 'fan-out-by-size', 'sequential-cross-node'],
    load: () => loadBench('paper.js', 'paper'),
  },
};

/** `cwasi bench`: its flags, help and action. */
export function addBenchCommand(program: Command, out: Out): void {
  const bench = program.command('bench')
    .summary('run a benchmark (list: cwasi bench --help)')
    .description(`Run a benchmark: ${Object.keys(BENCHES).join(', ')}.`)
    .argument('<name>', 'benchmark name')
    .optionsGroup('What to measure:')
    .option('--sizes <list>', 'payload sizes, e.g. 2MiB,16MiB,100MiB')
    .option('--modes <list>', 'only these modes')
    .option('--experiments <list>', 'paper: only these experiments, e.g. fan-out,fan-in')
    .option('--threads <n>', 'worker threads; paper and batch sweep a list, e.g. 1,2,4')
    .optionsGroup('Output:')
    .option('--json', 'print the JSON report on stdout instead of the table')
    .option('--out <dir>', 'write the JSON report (<dir>/<name>.json) here, and for paper SVG plots and an HTML page');
  helpHere(bench)
    .optionsGroup('Execution:')
    .option('--repeat <n>', 'measured executions per row')
    .option('--quick', 'fewer executions (CI-sized)')
    .option('--concurrency <n>', 'calls in flight (throughput rows)')
    .option('--contend <n>', 'run N CPU-bound processes beside the measurement, references included (a shared or busy host)')
    .optionsGroup('Network namespaces (networked):')
    .option('--netns', 'run the two nodes in network namespaces joined by veth pairs, Redis in a third (Linux, root, iproute2)')
    .option('--link <rate>', 'with --netns: shape every namespace link with tc tbf, e.g. 10gbit, 1gbit, 500mbit')
    .addOption(new Option(`${LEGACY_BENCH_JSON} <file>`).hideHelp());
  addRenamedFlag(bench, '--executions <n>', '--repeat', out.err);
  bench.addHelpText('after', benchHelp());
  examples(bench, [
    'cwasi bench overhead --quick',
    'cwasi bench local-buffer --sizes 2MiB,100MiB --json > local-buffer.json',
    'cwasi bench service --contend 2',
    'cwasi bench paper --quick --out report',
  ]).action((name: string, o: BenchFlags) => cmdBench(name, o, out, process.argv.slice(2)));
}

/** The text after `cwasi bench --help`: one line per benchmark. */
export function benchHelp(): string {
  return `\nBenchmarks:\n${Object.entries(BENCHES).map(([n, d]) => helpItem(n, d.description, 17)).join('\n')}`;
}

/** `--threads N` or, for benches that sweep, `--threads 1,2,4` (ascending, each once). */
function parseThreads(text: string, sweeps: boolean, name: string): number[] {
  const list = [...new Set(text.split(',').map((t) => parsePositiveInt(t.trim(), '--threads')))].sort((a, b) => a - b);
  if (list.length > 1 && !sweeps) throw new CwasiError('E_CONFIG', `cwasi bench ${name} takes one --threads value, got "${text}" (paper and batch sweep a list)`);
  return list;
}

/** `--experiments a,b`: each one the bench runs, each once, in the given order. */
function parseExperiments(text: string, known: readonly string[], name: string): string[] {
  const list = [...new Set(text.split(',').map((e) => e.trim()).filter(Boolean))];
  if (list.length === 0) throw new CwasiError('E_CONFIG', '--experiments needs at least one name');
  const unknown = list.filter((e) => !known.includes(e));
  if (unknown.length > 0) throw new CwasiError('E_CONFIG', `cwasi bench ${name} has no experiment ${unknown.map((e) => `"${e}"`).join(', ')}; it runs ${known.join(', ')}`);
  return list;
}

/** The flags of `cwasi bench`, as commander gives them. */
export interface BenchFlags {
  sizes?: string;
  modes?: string;
  /** paper: only these experiments. */
  experiments?: string;
  threads?: string;
  /** Print the JSON report on stdout instead of the table. */
  json?: boolean;
  /** A folder: `<out>/<name>.json`, and paper's plots and page. */
  out?: string;
  repeat?: string;
  quick?: boolean;
  concurrency?: string;
  netns?: boolean;
  link?: string;
  /** CPU-bound processes to run beside the measurement. */
  contend?: string;
  /** The old `--json <file>` (deprecated.ts): the report written here, the table printed as before. */
  legacyJsonFile?: string;
}

/**
 * Runs benchmark `name` with the command's flags and prints its table, goals
 * and notes, or with --json its JSON report (progress goes to stderr either way).
 */
export async function cmdBench(name: string, o: BenchFlags, out: Out, argv: string[]): Promise<void> {
  const def = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
  if (def === undefined) throw new CwasiError('E_CONFIG', `no benchmark "${name}"; available: ${Object.keys(BENCHES).join(', ')}`);
  const sizesText = o.sizes ?? def.defaultSizes;
  const threads = o.threads === undefined ? undefined : parseThreads(o.threads, def.sweepsThreads === true, name);
  if ((o.netns !== undefined || o.link !== undefined) && def.crossesHosts !== true) {
    throw new CwasiError('E_CONFIG', `cwasi bench ${name} runs on this host only; --netns and --link are for ${Object.keys(BENCHES).filter((b) => BENCHES[b]!.crossesHosts).join(', ')}`);
  }
  if (o.experiments !== undefined && def.experiments === undefined) {
    throw new CwasiError('E_CONFIG', `cwasi bench ${name} has no --experiments; it is for ${Object.keys(BENCHES).filter((b) => BENCHES[b]!.experiments).join(', ')}`);
  }
  const experiments = o.experiments === undefined ? undefined : parseExperiments(o.experiments, def.experiments!, name);
  if (o.link !== undefined && o.netns !== true) throw new CwasiError('E_CONFIG', '--link shapes the links between network namespaces: give --netns too');
  const link = o.link === undefined ? undefined : parseLinkRate(o.link);
  // Where the report goes is checked before measuring: a long run must not end in a write error.
  const reportFile = o.out === undefined ? undefined : join(o.out, `${name}.json`);
  if (o.out !== undefined) checkWritableDir(o.out, '--out');
  if (o.legacyJsonFile !== undefined) checkWritable(o.legacyJsonFile, '--json');
  // Flags are parsed before the benchmark's module loads, so a usage error costs no import.
  const opts: BenchOptions = {
    ...(sizesText !== undefined ? { sizes: parseSizes(sizesText) } : {}),
    quick: o.quick === true,
    ...(o.repeat !== undefined ? { executions: parsePositiveInt(o.repeat, '--repeat') } : {}),
    ...(o.concurrency !== undefined ? { concurrency: parsePositiveInt(o.concurrency, '--concurrency') } : {}),
    ...(threads !== undefined ? { threads: threads[0]! } : {}),
    ...(threads !== undefined && threads.length > 1 ? { threadSweep: threads } : {}),
    ...(o.out !== undefined ? { out: o.out } : {}),
    ...(o.netns === true ? { netns: true } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(o.modes !== undefined ? { modes: o.modes.split(',').map((m) => m.trim()).filter(Boolean) } : {}),
    ...(experiments !== undefined ? { experiments } : {}),
    progress: (total, label) => progress(true, total, label),
    command: `cwasi ${argv.join(' ')}`,
    log: (line) => out.err(line),
  };
  const contenders = o.contend === undefined ? 0 : parseNonNegativeInt(o.contend, '--contend');
  const run = await def.load();
  const contention = contend(contenders);
  let report: BenchReport;
  try {
    report = await run(opts);
  } finally {
    contention.stop();
  }
  if (contenders > 0) report.meta.contend = contenders;
  // With --json, stdout is the report alone; what the table run prints there goes to stderr.
  const say = o.json === true ? out.err : out.out;
  if (o.json === true) out.out(reportJson(report));
  else printReport(name, report, out.out);
  for (const file of [reportFile, o.legacyJsonFile]) {
    if (file === undefined) continue;
    if (file === reportFile) makeDir(o.out!, '--out');
    await writeArg(file, reportJson(report) + '\n', file === reportFile ? '--out' : '--json');
    say(`wrote ${file}`);
  }
}

/** The table, goals and notes of a report, as text. */
function printReport(name: string, report: BenchReport, say: (line: string) => void): void {
  const m = report.meta;
  say(`cwasi bench ${name} — Node ${m.node}, ${m.cpu}, ${m.cores} cores`);
  if (report.table !== undefined) say(report.table);
  else say(table(['bench', 'mode', 'payload', 'n', 'p50', 'p99', 'mean', 'req/s', 'paper req/s', 'GB/s'], report.results.map((r) => [
    r.bench + (r.metric && r.metric.length < 24 ? ` (${r.metric})` : ''), r.mode, formatSize(r.payloadBytes), r.executions,
    formatMs(r.latencyMs.p50Ms), formatMs(r.latencyMs.p99Ms), formatMs(r.latencyMs.meanMs),
    r.throughputRps.toFixed(1), r.throughputPaperRps.toFixed(1), r.gbPerSec === null ? '-' : r.gbPerSec.toFixed(2),
  ])));
  if (report.goals.length > 0) {
    say('goals');
    for (const g of report.goals) say(`  ${g.pass ? 'met ' : 'MISSED'}  ${g.name}: ${g.measured} (target ${g.target})`);
  }
  for (const n of report.notes ?? []) say(`note: ${n}`);
}

/** The report as the JSON document `cwasi bench --json` prints: `schemaVersion` first, no text table. */
function reportJson(report: BenchReport): string {
  const { table: _table, ...doc } = report;
  return jsonDocument(doc);
}
