// The `cwasi` command line. Uses only the engine's public API.

import { Command, CommanderError, Option } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import {
  CwasiError, DEFAULT_MAX_PAYLOAD_BYTES, Engine, IFC_MODES, isIfcMode, parseWorkflow,
  type EngineOptions, type IfcMode, type PlanReport, type WorkflowDocument,
} from '../index.js';
import * as workloads from '../workloads.js';
import { summarize } from '../stats.js';
import { bundledFunctionsDir, readManifests } from '../coordinator.js';
import { addBatchFlags, runBatch, type BatchFlags } from './batch.js';
import { BENCHES, addBenchCommand } from './bench.js';
import { examples, helpHere } from './help.js';
import { addBuildFlags, cmdBuild, type BuildOptions } from './build.js';
import { addRenamedFlag, legacyBenchJson } from './deprecated.js';
import { checkWritable, readArg, writeArg } from './files.js';
import { createEngine } from './flag-errors.js';
import { formatMs, formatSize, hex32, parseNonNegativeInt, parsePositiveInt, parseSize, table } from './format.js';
import { cmdInit, type InitOptions } from './init.js';
import { withOptionFlags } from './option-flags.js';
import { assertInspectedGuest, formatInspection, inspectFile } from './inspect.js';
import { jsonDocument } from './json.js';
import { addNatsFlags, addNatsServerFlags, anyNatsFlag, natsAuthFromFlags, natsReplicasFromFlags, type NatsFlags } from './nats-flags.js';
import { progress } from './progress.js';
import { runRepeated, type RepeatOutcome } from './repeat.js';
import { Reported, itemError, reportError, type Out } from './report.js';
import { cmdValidate } from './validate.js';

const io: Out = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

/** A workflow file, a .wasm file or the name of a bundled function run on its own. */
interface Target {
  name: string;
  doc: WorkflowDocument | undefined;
  path: string | undefined;
  /** A bare module: one function named after the file, its bytes as input. */
  wasm?: string;
}

function loadTarget(arg: string): Target {
  if (arg.endsWith('.wasm')) {
    if (!existsSync(arg)) throw new CwasiError('E_IO', `module file ${arg}: no such file or directory`, { file: arg });
    return { name: basename(arg, '.wasm'), doc: undefined, path: undefined, wasm: arg };
  }
  if (existsSync(arg) || arg.endsWith('.json')) {
    const doc = parseWorkflow(readArg(arg, 'workflow file').toString('utf8'), arg);
    return { name: doc.name, doc, path: arg };
  }
  return { name: arg, doc: undefined, path: undefined };
}

async function deployTarget(engine: Engine, t: Target): Promise<void> {
  if (t.path !== undefined) {
    await engine.deployFile(t.path);
    return;
  }
  if (t.wasm !== undefined) {
    await engine.deploy({ name: t.name, module: t.wasm });
    return;
  }
  if (!engine.bundledFunctions().includes(t.name)) {
    throw new CwasiError('E_UNKNOWN_FUNCTION', `"${t.name}" is neither a workflow file nor a bundled function (bundled: ${engine.bundledFunctions().join(', ')})`);
  }
  await engine.deploy({ name: t.name, module: t.name });
}

function parseModes(values: string[] | undefined): Record<string, IfcMode> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const modes: Record<string, IfcMode> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    const edge = eq < 0 ? '*' : v.slice(0, eq);
    const mode = eq < 0 ? v : v.slice(eq + 1);
    if (!isIfcMode(mode)) throw new CwasiError('E_CONFIG', `--mode ${v}: "${mode}" is not one of ${IFC_MODES.join(', ')}`);
    if (edge !== '*' && !/^[^>]+->[^>]+$/.test(edge)) throw new CwasiError('E_CONFIG', `--mode ${v}: name the edge as from->to (or * for all)`);
    modes[edge] = mode;
  }
  return modes;
}

/** Options that make `run` / `plan` coordinate from inside a cluster. */
interface ClusterFlags extends NatsFlags {
  cluster?: string;
  secretFile?: string;
  name?: string;
  listen?: string;
}

function clusterOptions(o: ClusterFlags): EngineOptions['cluster'] | undefined {
  if (o.nats === undefined) {
    if (o.cluster !== undefined || o.secretFile !== undefined || o.name !== undefined || o.listen !== undefined || anyNatsFlag(o)) {
      throw new CwasiError('E_CONFIG', '--cluster, --secret-file, --name, --listen and the --nats-* flags need --nats');
    }
    return undefined;
  }
  const natsAuth = natsAuthFromFlags(o);
  const natsReplicas = natsReplicasFromFlags(o);
  return {
    nats: o.nats,
    ...(natsReplicas !== undefined ? { natsReplicas } : {}),
    ...(natsAuth !== undefined ? { natsAuth } : {}),
    ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
    ...(o.secretFile !== undefined ? { secretFile: o.secretFile } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.listen !== undefined ? { listen: o.listen } : {}),
  };
}

/** The flags that make `run` / `plan` coordinate from inside a cluster: last in the help, under their own headings. */
function addClusterFlags(cmd: Command): Command {
  cmd.optionsGroup('Cluster (with --nats):');
  addNatsServerFlags(cmd, 'coordinate from inside a cluster, through this NATS', false)
    .option('--cluster <name>', 'cluster name')
    .option('--secret-file <file>', 'file holding the cluster secret (else CWASI_SECRET)')
    .option('--name <name>', 'this node\'s name')
    .option('--listen <host:port>', 'this node\'s Networked Buffer listener');
  return addNatsFlags(cmd);
}

interface RunOptions extends ClusterFlags, BatchFlags {
  input?: string;
  size?: string;
  seed: string;
  text?: string;
  repeat: string;
  warmup: string;
  concurrency?: string;
  mode?: string[];
  timeout?: string;
  threads?: string;
  json?: boolean;
  verbose?: boolean;
}

function buildInput(t: Target, o: RunOptions): { bytes: Uint8Array; describe: string } {
  const given = [o.input, o.size, o.text].filter((x) => x !== undefined).length;
  if (given > 1) throw new CwasiError('E_CONFIG', 'give at most one of --input, --size and --text');
  if (o.input !== undefined) {
    if (o.input !== '-' && existsSync(o.input) && statSync(o.input).isFile()) refuseOversized(statSync(o.input).size, `--input ${o.input}`);
    const bytes = new Uint8Array(readArg(o.input, '--input'));
    if (o.input === '-') refuseOversized(bytes.length, '--input - (stdin)');
    return { bytes, describe: `${formatSize(bytes.length)} from ${o.input === '-' ? 'stdin' : o.input}` };
  }
  if (o.text !== undefined) {
    const bytes = new TextEncoder().encode(o.text);
    return { bytes, describe: `${formatSize(bytes.length)} of text` };
  }
  const kind = t.doc?.input?.kind ?? (t.name === 'producer' ? 'producer-spec' : 'bytes');
  const seed = Number(o.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new CwasiError('E_CONFIG', `--seed must be an integer 0..4294967295`);
  const size = o.size !== undefined ? parseSize(o.size) : kind === 'text' ? 4096 : 2 * 1024 * 1024;
  // Refused before anything is generated: the input (or the producer's output) would be refused anyway.
  if (kind === 'producer-spec' && size > workloads.PRODUCER_MAX_BYTES) {
    throw new CwasiError('E_PAYLOAD_TOO_LARGE', `--size ${o.size}: the producer makes at most ${workloads.PRODUCER_MAX_BYTES} bytes, asked for ${size}`);
  }
  refuseOversized(size, `--size ${o.size}`);
  if (kind === 'producer-spec') {
    return { bytes: workloads.producerSpec(size, seed), describe: `producer spec: ${formatSize(size)}, seed ${seed}` };
  }
  if (kind === 'text') {
    const words = ['wasm', 'memory', 'ring', 'node', 'edge', 'cloud', 'function', 'buffer', 'shared', 'zero', 'copy'];
    const raw = workloads.produce(Math.ceil(size / 4), seed);
    let text = '';
    for (let i = 0; text.length < size; i++) text += words[raw[i % raw.length]! % words.length] + (i % 12 === 11 ? '\n' : ' ');
    const bytes = new TextEncoder().encode(text.slice(0, size));
    return { bytes, describe: `${formatSize(bytes.length)} of generated text, seed ${seed}` };
  }
  return { bytes: workloads.produce(size, seed), describe: `${formatSize(size)} of generated bytes, seed ${seed}` };
}

/** Inputs and outputs above the engine's payload limit are refused; say so before making one. */
function refuseOversized(bytes: number, what: string): void {
  if (bytes > DEFAULT_MAX_PAYLOAD_BYTES) {
    throw new CwasiError('E_PAYLOAD_TOO_LARGE', `${what}: ${bytes} bytes exceeds the payload limit of ${DEFAULT_MAX_PAYLOAD_BYTES} bytes`);
  }
}

/** A one-line reading of a function's output, by the bundled module that made it. */
function describeOutput(module: string | undefined, bytes: Uint8Array): string {
  const base = module === undefined ? '' : basename(module).replace(/\.wasm$/, '');
  if (base === 'checksum' && bytes.length % 8 === 0 && bytes.length > 0) {
    return workloads.readChecksums(bytes).map((r) => `cwasi-sum32 ${hex32(r.hash)} over ${r.length} bytes`).join('; ');
  }
  if (base === 'aggregate' && bytes.length >= 16) {
    const a = workloads.readAggregate(bytes);
    return `${a.count} inputs, ${a.totalLength} bytes in all, table sum ${hex32(a.tableHash)}: ${a.inputs.map((i) => `${i.length}B/${hex32(i.hash)}`).join(', ')}`;
  }
  if (base === 'wordcount') return new TextDecoder().decode(bytes).trimEnd().split('\n').join(' | ');
  const preview = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${bytes.length} bytes, cwasi-sum32 ${hex32(workloads.checksum(bytes))}${bytes.length > 0 ? `, starts ${preview}` : ''}`;
}

function printPlan(plan: PlanReport, out: Out): void {
  out.out(`placement`);
  out.out(table(['function', 'host', 'memory group', 'trust', 'static data'], plan.functions.map((f) => [
    f.name, f.host, f.group, f.trusted ? `trusted (${f.domain})` : 'untrusted',
    f.staticRegion === null ? '-' : `[${f.staticRegion.start}, ${f.staticRegion.end})`,
  ])).split('\n').map((l) => `  ${l}`).join('\n'));
  if (plan.edges.length > 0) {
    out.out('edges');
    out.out(table(['edge', 'mode', 'why'], plan.edges.map((e) => [
      `${e.from} → ${e.to}`, e.mode + (e.chained ? ' (same task)' : ''), e.reason,
    ])).split('\n').map((l) => `  ${l}`).join('\n'));
    const star = plan.edges.filter((e) => e.overrideRefused !== undefined);
    for (const e of star) out.out(`  ${e.from} → ${e.to}: the * override fell back to ${e.mode} (${e.overrideRefused})`);
  }
  out.out(`output: ${plan.output}`);
}

async function cmdRun(arg: string, o: RunOptions, out: Out): Promise<void> {
  if (o.batch !== undefined) {
    if (o.input !== undefined || o.size !== undefined || o.text !== undefined || o.repeat !== '1' || o.warmup !== '0') {
      throw new CwasiError('E_CONFIG', '--batch cannot be combined with --input, --size, --text, --repeat or --warmup');
    }
    if (o.out === '-') throw new CwasiError('E_CONFIG', '--out - with --batch: without --out each result is a line on stdout; with it, --out names a folder');
    return runBatch(arg, o, out, { loadTarget, deployTarget, parseModes, cluster: clusterOptions(o) });
  }
  const t = loadTarget(arg);
  const repeat = parsePositiveInt(o.repeat, '--repeat');
  const warmup = parseNonNegativeInt(o.warmup, '--warmup');
  const concurrency = parsePositiveInt(o.concurrency ?? '1', '--concurrency');
  const modes = parseModes(o.mode);
  if (o.out === '-' && o.json) throw new CwasiError('E_CONFIG', '--out - and --json both write to stdout; give --out a file');
  if (o.out !== undefined) checkWritable(o.out, '--out');
  const input = buildInput(t, o);
  const timeoutMs = o.timeout !== undefined ? parsePositiveInt(o.timeout, '--timeout') : undefined;
  const cluster = clusterOptions(o);
  // With the output bytes on stdout, the text report goes to stderr.
  const say = o.out === '-' ? out.err : out.out;
  const engine = await createEngine({
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads, '--threads') } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
  });
  try {
    await deployTarget(engine, t);
    const plan = engine.plan(t.name, modes);
    if (!o.json) {
      say(`cwasi run ${arg}: ${plan.kind} "${t.name}" (${plan.functions.length} function${plan.functions.length === 1 ? '' : 's'}, ${plan.edges.length} edge${plan.edges.length === 1 ? '' : 's'}), input ${input.describe}`);
      printPlan(plan, { out: say, err: out.err });
    }
    const bar = progress(!o.json && warmup + repeat > 1, warmup + repeat, 'run');
    let r: RepeatOutcome;
    try {
      r = await runRepeated(engine, t.name, input.bytes, { repeat, warmup, concurrency, modes, timeoutMs, tick: () => bar.tick() });
    } finally {
      bar.stop(); // also shows the cursor again
    }
    const latency = summarize(r.latencies);
    const rate = r.wallMs > 0 ? r.completed / (r.wallMs / 1000) : 0;
    const steady = latency.count === 0 ? '0 steady-state'
      : `${latency.count} steady-state: p50 ${formatMs(latency.p50Ms)}, p90 ${formatMs(latency.p90Ms)}, p99 ${formatMs(latency.p99Ms)}, max ${formatMs(latency.maxMs)}, mean ${formatMs(latency.meanMs)}`;
    if (r.interrupted) {
      out.err(`interrupted: ${r.completed} of ${repeat} invocations completed${warmup > 0 ? ` after ${warmup} warm-up` : ''}; ${steady}`);
      throw new Reported(130, 'interrupted');
    }
    const report = r.first!;
    const modules = new Map(engine.functions().map((f) => {
      const m = t.doc?.functions[f.name]?.module; // a file names modules by string
      return [f.name, typeof m === 'string' ? m : f.name];
    }));
    if (o.out !== undefined) await writeArg(o.out, report.output, '--out');
    if (o.json) {
      out.out(jsonDocument({
        target: t.name,
        kind: plan.kind,
        input: { bytes: input.bytes.length, describe: input.describe },
        edges: report.edges,
        outputs: Object.fromEntries(Object.entries(report.outputs).map(([k, v]) => [k, { bytes: v.length, sum32: hex32(workloads.checksum(v)), describe: describeOutput(modules.get(k), v) }])),
        output: plan.output,
        invocations: repeat,
        warmup,
        concurrency,
        coldMs: r.coldMs,
        latencyMs: latency,
        throughputRps: rate,
        throughputPaperRps: latency.meanMs > 0 ? 1000 / latency.meanMs : 0,
        steps: report.steps,
      }));
      return;
    }
    say('result');
    for (const [name, bytes] of Object.entries(report.outputs)) {
      say(`  ${name}${name === plan.output ? ' (output)' : ''}: ${describeOutput(modules.get(name), bytes)}`);
    }
    if (o.verbose) {
      for (const s of report.steps) say(`  step ${s.fn}: thread ${s.threadId}, ran ${formatMs(s.done - s.inputReady)} after its input was ready at +${formatMs(s.inputReady - report.startedAt)}`);
      for (const l of report.logs) say(`  log: ${l}`);
    }
    if (warmup + repeat === 1) say(`time: ${formatMs(report.latencyMs)} (cold)`);
    else say(`time: cold first call ${formatMs(r.coldMs!)}; ${repeat} measured${warmup > 0 ? ` after ${warmup} warm-up` : ''}, concurrency ${concurrency}, ${steady}; ${rate.toFixed(1)} invocations/s`);
  } finally {
    await engine.close();
  }
}

/** Plans each target in turn on one engine; every failure is reported and the others still planned. */
async function cmdPlan(args: string[], o: { json?: boolean; mode?: string[] } & ClusterFlags, out: Out): Promise<void> {
  const modes = parseModes(o.mode);
  const cluster = clusterOptions(o);
  const engine = await createEngine({ threads: 1, ...(cluster !== undefined ? { cluster } : {}) });
  const plans: PlanReport[] = [];
  let failed = 0;
  try {
    for (const arg of args) {
      try {
        const t = loadTarget(arg);
        await deployTarget(engine, t);
        const plan = engine.plan(t.name, modes);
        plans.push(plan);
        if (o.json) continue;
        if (args.length > 1 && plans.length > 1) out.out('');
        out.out(`${plan.kind} "${plan.target}"${args.length > 1 ? ` (${arg})` : ''}`);
        printPlan(plan, out);
      } catch (err) {
        if (args.length === 1) throw err;
        failed++;
        out.err(itemError(arg, err));
      }
    }
  } finally {
    await engine.close();
  }
  // One document: the plan itself for one target, `plans` for several.
  if (o.json) out.out(jsonDocument(args.length === 1 ? plans[0]! : { plans }));
  if (failed > 0) throw new Reported(1, `${failed} of ${args.length} targets could not be planned`);
}

interface NodeOptions extends NatsFlags {
  nats: string[];
  listen: string;
  secretFile?: string;
  name?: string;
  cluster: string;
  threads?: string;
  memoryMax?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

function readTls(o: NodeOptions): { key: Buffer; cert: Buffer; ca: Buffer } | undefined {
  const given = [o.tlsCert, o.tlsKey, o.tlsCa].filter((x) => x !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3) throw new CwasiError('E_CONFIG', 'TLS needs all of --tls-cert, --tls-key and --tls-ca');
  try {
    return { cert: readFileSync(o.tlsCert!), key: readFileSync(o.tlsKey!), ca: readFileSync(o.tlsCa!) };
  } catch (err) {
    throw new CwasiError('E_CONFIG', `cannot read a TLS file: ${(err as Error).message}`);
  }
}

async function cmdNode(o: NodeOptions, out: Out): Promise<void> {
  const tls = readTls(o);
  const natsAuth = natsAuthFromFlags(o);
  const natsReplicas = natsReplicasFromFlags(o);
  const engine = await createEngine({
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads, '--threads') } : {}),
    ...(o.memoryMax !== undefined ? { memoryMaxBytes: parseSize(o.memoryMax) } : {}),
    cluster: {
      nats: o.nats, listen: o.listen, cluster: o.cluster,
      ...(natsReplicas !== undefined ? { natsReplicas } : {}),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.secretFile !== undefined ? { secretFile: o.secretFile } : {}),
      ...(tls !== undefined ? { tls } : {}),
      ...(natsAuth !== undefined ? { natsAuth } : {}),
    },
  });
  const s = engine.clusterStats()!;
  out.out(`cwasi node ${s.node} ready: cluster "${o.cluster}", networked buffer on ${s.address}, NATS ${s.nats.server}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      out.err(`cwasi node ${s.node}: ${sig}, closing`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await engine.close();
}

/** The bundled functions; the engine's test fixtures (trap, spin, hog, statics-*; a built checkout only) with `all`. */
function cmdFunctions(out: Out, json: boolean, all: boolean): void {
  const listed = Object.fromEntries(Object.entries(readManifests(bundledFunctionsDir())).filter(([, f]) => all || !f.testOnly));
  if (json) {
    out.out(jsonDocument({ functions: listed }));
    return;
  }
  out.out(table(['function', 'source', 'static data', 'kind'], Object.entries(listed).map(([n, f]) => [
    n, f.source, `[${f.memoryBase}, ${f.staticEnd})`, f.testOnly ? 'test fixture' : 'workload',
  ])));
}

const collect = (v: string, acc: string[] | undefined): string[] => [...(acc ?? []), v];

/**
 * The `cwasi` program. Every help lists what most users need first: what goes
 * in, how it is placed, what comes out, how it is run; cluster and NATS flags
 * last, under their own headings. Old flag spellings work, hidden
 * (deprecated.ts).
 */
export function buildProgram(out: Out = io): Command {
  const program = new Command();
  program
    .name('cwasi')
    .description('Run AssemblyScript functions on a worker pool and move data between them by the fastest channel their placement allows.')
    .version(packageVersion(), '-V, --version', 'print the cwasi version')
    .helpOption('-h, --help', 'show this help')
    // A usage error is one line, with the nearest valid option when there is one (not the whole help).
    .configureOutput({ outputError: (str, write) => write(`${str.trimEnd().replace(/\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)')}; see --help\n`) })
    // `help [command]` is named in the footer, not listed in a group of its own.
    .configureHelp({ visibleCommands: (cmd) => cmd.commands.slice() })
    .exitOverride();

  program.commandsGroup('Run functions:');

  const run = program.command('run')
    .summary('deploy a workflow or one function and invoke it')
    .description('Deploy a workflow (or one bundled function, or a .wasm module) and invoke it: once, --repeat times, or once per input of a --batch.')
    .argument('<workflow>', 'workflow JSON file, .wasm module, or name of a bundled function')
    .optionsGroup('Input:')
    .option('--input <file>', "input bytes from a file ('-' for stdin)")
    .option('--size <size>', 'generate an input of this size, e.g. 2MiB (for a producer-spec workflow: what the producer makes)')
    .addOption(new Option('--seed <n>', 'seed of the generated input').default('1', '1'))
    .option('--text <text>', 'input as UTF-8 text')
    .option('--batch <dir|glob|->', "run once per file of a folder or glob, or per record on stdin ('-')")
    .optionsGroup('Modes and placement:')
    .option('--mode <edge=mode>', `force an IFC mode: from->to=MODE, or *=MODE for every edge (${IFC_MODES.join(', ')}); repeatable`, collect)
    .option('--threads <n>', 'worker threads')
    .optionsGroup('Output:')
    .option('--out <path>', "write the output to this file ('-': stdout, report on stderr); with --batch, a folder of <key>.out files")
    .option('--json', 'print a JSON report on stdout instead of text')
    .option('-v, --verbose', 'print per-step timings and guest logs');
  helpHere(run)
    .optionsGroup('Execution:')
    .addOption(new Option('--repeat <n>', 'measured invocations').default('1', '1'))
    .addOption(new Option('--warmup <n>', 'unmeasured invocations before them').default('0', '0'))
    .option('--concurrency <n>', 'invocations in flight (default: 1; with --batch, enough for every worker)')
    .option('--timeout <ms>', 'deadline per invocation in milliseconds');
  addClusterFlags(addBatchFlags(run));
  addRenamedFlag(run, '--output <file>', '--out', out.err);
  addRenamedFlag(run, '--inputs <dir|glob|->', '--batch', out.err);
  examples(run, [
    'cwasi run examples/sequential.json --size 2MiB --repeat 100',
    'cwasi run transform --input data.bin --out result.bin',
    "cwasi run checksum --batch 'inputs/*.bin' --out results --json",
  ]).action((arg: string, o: RunOptions) => cmdRun(arg, o, out));

  const plan = program.command('plan')
    .summary('show placement and IFC modes, with the reasons')
    .description("Print each function's placement and each edge's IFC mode with the reason, as run would choose them.")
    .argument('<workflow...>', 'workflow JSON files, or names of bundled functions')
    .option('--mode <edge=mode>', 'force an IFC mode (as for run); repeatable', collect)
    .option('--json', 'print JSON on stdout instead of text');
  addClusterFlags(plan)
    .action((args: string[], o: { json?: boolean; mode?: string[] } & ClusterFlags) => cmdPlan(args, o, out));

  program.command('validate')
    .summary('check workflow files (schema, graph rules)')
    .description('Check workflow files against the schema and the graph rules (as deploy does); reports each.')
    .argument('<workflow...>', 'workflow JSON files')
    .action((files: string[]) => cmdValidate(files, out));

  program.command('functions')
    .summary('list the bundled functions')
    .description('List the bundled functions and their static data regions.')
    .option('--json', 'print JSON on stdout instead of a table')
    .option('--all', 'include the engine\'s test fixtures (in a built checkout; the package does not ship them)')
    .action((o: { json?: boolean; all?: boolean }) => cmdFunctions(out, o.json === true, o.all === true));

  program.commandsGroup('Build and inspect:');

  program.command('init')
    .summary('create a project: function, workflow, test')
    .description('Create a project: one function, a workflow using it, a test; then npm install && npm test && npm start.')
    .argument('<dir>', 'new (or empty) folder')
    .option('--dependency <spec>', 'what package.json depends on for cwasi (default: how this cwasi was installed: ^version from the registry, else the tarball, folder or checkout as file:)')
    .action((dir: string, o: InitOptions) => cmdInit(dir, o, out.out));

  const build = addBuildFlags(program.command('build')
    .summary('compile AssemblyScript functions for cwasi')
    .description('Compile AssemblyScript functions with the cwasi flags (and the asc options given), each at its own static region above the bundled ones.')
    .argument('<files...>', 'AssemblyScript sources (.ts), one module each, or folders of them'));
  examples(build, ['cwasi build assembly --out build', 'cwasi build fn.ts --enable simd -O3 --json'])
    .action(async (files: string[], o: BuildOptions) => { await cmdBuild(files, o, out.out); });

  program.command('inspect')
    .summary('check a .wasm module: imports, exports, ABI')
    .description("Show a module's imports, exports, ABI version and static region, and whether it can run (exit 1 when not) and be embedded.")
    .argument('<file>', '.wasm file')
    .option('--json', 'print JSON on stdout instead of text')
    .action(async (file: string, o: { json?: boolean }) => {
      const i = await inspectFile(file);
      out.out(o.json === true ? jsonDocument(i) : formatInspection(i));
      // A module the engine would refuse exits 1, after the report says why.
      assertInspectedGuest(i);
    });

  program.commandsGroup('Cluster:');

  const node = program.command('node')
    .summary('run a cluster node (NATS, Networked Buffer)')
    .description('Run an engine node of a cluster: registers in NATS JetStream, serves deploy/run requests, streams payloads over the Networked Buffer.')
    .optionsGroup('Cluster:');
  addNatsServerFlags(node, 'NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222', true)
    .option('--cluster <name>', 'cluster name', 'default')
    .option('--name <name>', 'node name (default: <hostname>-<pid>)')
    .addOption(new Option('--listen <host:port>', 'Networked Buffer listener').default('127.0.0.1:0', '127.0.0.1:0, loopback'))
    .option('--secret-file <file>', 'file holding the cluster secret (else CWASI_SECRET)')
    .option('--threads <n>', 'worker threads')
    .option('--memory-max <size>', 'largest size a function memory on this node may grow to, e.g. 4GiB (default: 2GiB)');
  helpHere(node)
    .optionsGroup('Networked Buffer TLS:')
    .option('--tls-cert <file>', 'this node\'s certificate (PEM; with --tls-key and --tls-ca)')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'the cluster CA that signed every node\'s certificate (PEM)');
  examples(addNatsFlags(node), ['cwasi node --nats nats://10.0.0.5:4222 --listen 0.0.0.0:7000 --secret-file cluster.secret'])
    .action((o: NodeOptions) => cmdNode(o, out));

  program.command('nats-config')
    .summary('print a nats-server config for a cluster')
    .description("Print a nats-server configuration in which only the cluster's nodes can reach it: an account of its own, a node user, a read-only monitor user.")
    .option('--cluster <name>', 'cluster name', 'default')
    .option('--port <n>', 'client port of the server', '4222')
    .option('--store-dir <dir>', "JetStream's store folder", './nats-store')
    .option('--out <dir>', 'write nats.conf and the users\' password files (mode 600) here instead of printing')
    .action(async (o: { cluster: string; port: string; storeDir: string; out?: string }) => {
      const { cmdNatsConfig } = await import('./nats-config.js');
      cmdNatsConfig(o, out.out);
    });

  program.commandsGroup('Benchmarks:');

  addBenchCommand(program, out);

  program.addOption(new Option('--no-color').hideHelp());
  examples(program, [
    'cwasi run examples/sequential.json --size 2MiB',
    'cwasi plan examples/fan-out.json',
    'cwasi bench overhead --quick',
  ]);
  program.addHelpText('after', "\nRun 'cwasi <command> --help' (or 'cwasi help <command>') for a command's options.");
  return program;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[], out: Out = io): Promise<number> {
  const program = buildProgram(out);
  program.configureOutput({ writeOut: (s) => out.out(s.trimEnd()), writeErr: (s) => out.err(s.trimEnd()) });
  try {
    await program.parseAsync(legacyBenchJson(argv, Object.keys(BENCHES), out.err), { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    return reportError(out, withOptionFlags(err), argv.includes('--verbose') || argv.includes('-v'));
  }
}

/** This package's version, from its package.json (dist/engine/cli/ → the package root). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
