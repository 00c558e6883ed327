// The `cwasi` command line. Uses only the engine's public API.

import { Command, CommanderError, Option } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BENCHES } from '../../bench/index.js';
import { progress, writeReport, type BenchReport } from '../../bench/common.js';
import {
  CwasiError, Engine, IFC_MODES, isIfcMode, parseWorkflow, workloads,
  type EngineOptions, type IfcMode, type InvocationReport, type PlanReport, type WorkflowDocument,
} from '../index.js';
import { formatMs, formatSize, hex32, parsePositiveInt, parseSize, parseSizes, table } from './format.js';
import { addNatsFlags, anyNatsFlag, natsAuthFromFlags, type NatsFlags } from './nats-flags.js';

interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
}

const io: Out = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

/** A workflow file, or the name of a bundled function run on its own. */
interface Target {
  name: string;
  doc: WorkflowDocument | undefined;
  path: string | undefined;
}

function loadTarget(arg: string): Target {
  if (existsSync(arg)) {
    const doc = parseWorkflow(readFileSync(arg, 'utf8'), arg);
    return { name: doc.name, doc, path: arg };
  }
  if (arg.endsWith('.json')) throw new CwasiError('E_WORKFLOW_INVALID', `workflow file ${arg} does not exist`);
  return { name: arg, doc: undefined, path: undefined };
}

async function deployTarget(engine: Engine, t: Target): Promise<void> {
  if (t.path !== undefined) {
    await engine.deployFile(t.path);
    return;
  }
  if (!engine.bundledFunctions().includes(t.name)) {
    throw new CwasiError('E_UNKNOWN_FUNCTION', `"${t.name}" is neither a workflow file nor a bundled function (bundled: ${engine.bundledFunctions().join(', ')})`);
  }
  await engine.deploy({ name: t.name, module: t.name });
}

function parseModes(values: string[]): Record<string, IfcMode> | undefined {
  if (values.length === 0) return undefined;
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
  nats?: string;
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
  return {
    nats: o.nats,
    ...(natsAuth !== undefined ? { natsAuth } : {}),
    ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
    ...(o.secretFile !== undefined ? { secretFile: o.secretFile } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.listen !== undefined ? { listen: o.listen } : {}),
  };
}

function addClusterFlags(cmd: Command): Command {
  return addNatsFlags(cmd)
    .option('--nats <url>', 'coordinate from inside a cluster (functions pinned with "host")')
    .option('--cluster <name>', 'cluster name (with --nats)')
    .option('--secret-file <file>', 'cluster secret (with --nats; else CWASI_SECRET)')
    .option('--name <name>', 'this node\'s name (with --nats)')
    .option('--listen <host:port>', 'this node\'s Networked Buffer listener (with --nats)');
}

interface RunOptions extends ClusterFlags {
  input?: string;
  size?: string;
  seed: string;
  text?: string;
  repeat: string;
  concurrency: string;
  mode: string[];
  timeout?: string;
  threads?: string;
  json?: boolean;
  output?: string;
  verbose?: boolean;
}

function buildInput(t: Target, o: RunOptions): { bytes: Uint8Array; describe: string } {
  const given = [o.input, o.size, o.text].filter((x) => x !== undefined).length;
  if (given > 1) throw new CwasiError('E_CONFIG', 'give at most one of --input, --size and --text');
  if (o.input !== undefined) {
    const bytes = new Uint8Array(o.input === '-' ? readFileSync(0) : readFileSync(o.input));
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
  if (kind === 'producer-spec') {
    if (size > 0x7fff0000) throw new CwasiError('E_CONFIG', `--size ${o.size} is too large for the producer`);
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
  }
  out.out(`output: ${plan.output}`);
}

async function cmdRun(arg: string, o: RunOptions, out: Out): Promise<void> {
  const t = loadTarget(arg);
  const repeat = parsePositiveInt(o.repeat, '--repeat');
  const concurrency = parsePositiveInt(o.concurrency, '--concurrency');
  const modes = parseModes(o.mode);
  const input = buildInput(t, o);
  const timeoutMs = o.timeout !== undefined ? parsePositiveInt(o.timeout, '--timeout') : undefined;
  const cluster = clusterOptions(o);
  const engine = await Engine.create({
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads, '--threads') } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
  });
  try {
    await deployTarget(engine, t);
    const plan = engine.plan(t.name, modes);
    if (!o.json) {
      out.out(`cwasi run ${arg}: ${plan.kind} "${t.name}" (${plan.functions.length} function${plan.functions.length === 1 ? '' : 's'}, ${plan.edges.length} edge${plan.edges.length === 1 ? '' : 's'}), input ${input.describe}`);
      printPlan(plan, out);
    }
    const bar = progress(!o.json && repeat > 1, repeat, 'run');
    const latencies: number[] = [];
    let first: InvocationReport | undefined;
    let next = 0;
    const started = performance.now();
    const lane = async () => {
      while (next < repeat) {
        next++;
        const r = await engine.invokeWithReport(t.name, input.bytes, { ...(modes ? { modes } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
        first ??= r;
        latencies.push(r.latencyMs);
        bar.tick();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, repeat) }, lane));
    } finally {
      bar.stop();
    }
    const wallMs = performance.now() - started;
    const report = first!;
    const modules = new Map(engine.functions().map((f) => [f.name, t.doc?.functions[f.name]?.module ?? f.name]));
    if (o.output !== undefined) writeFileSync(o.output, report.output);
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    if (o.json) {
      out.out(JSON.stringify({
        target: t.name,
        kind: plan.kind,
        input: { bytes: input.bytes.length, describe: input.describe },
        edges: report.edges,
        outputs: Object.fromEntries(Object.entries(report.outputs).map(([k, v]) => [k, { bytes: v.length, sum32: hex32(workloads.checksum(v)), describe: describeOutput(modules.get(k), v) }])),
        output: plan.output,
        invocations: repeat,
        concurrency,
        latencyMs: { p50: pct(0.5), p99: pct(0.99), mean, min: sorted[0], max: sorted[sorted.length - 1] },
        throughputRps: repeat / (wallMs / 1000),
        throughputPaperRps: 1000 / mean,
        steps: report.steps,
      }, null, 2));
      return;
    }
    out.out('result');
    for (const [name, bytes] of Object.entries(report.outputs)) {
      out.out(`  ${name}${name === plan.output ? ' (output)' : ''}: ${describeOutput(modules.get(name), bytes)}`);
    }
    if (o.verbose) {
      for (const s of report.steps) out.out(`  step ${s.fn}: thread ${s.threadId}, ran ${formatMs(s.done - s.inputReady)} after its input was ready at +${formatMs(s.inputReady - report.startedAt)}`);
      for (const l of report.logs) out.out(`  log: ${l}`);
    }
    if (repeat === 1) out.out(`time: ${formatMs(report.latencyMs)}`);
    else out.out(`time: ${repeat} invocations, concurrency ${concurrency}: p50 ${formatMs(pct(0.5))}, p99 ${formatMs(pct(0.99))}, mean ${formatMs(mean)}; ${(repeat / (wallMs / 1000)).toFixed(1)} invocations/s`);
  } finally {
    await engine.close();
  }
}

async function cmdPlan(arg: string, o: { json?: boolean; mode: string[] } & ClusterFlags, out: Out): Promise<void> {
  const t = loadTarget(arg);
  const cluster = clusterOptions(o);
  const engine = await Engine.create({ threads: 1, ...(cluster !== undefined ? { cluster } : {}) });
  try {
    await deployTarget(engine, t);
    const plan = engine.plan(t.name, parseModes(o.mode));
    if (o.json) out.out(JSON.stringify(plan, null, 2));
    else {
      out.out(`${plan.kind} "${plan.target}"`);
      printPlan(plan, out);
    }
  } finally {
    await engine.close();
  }
}

async function cmdBench(name: string, o: Record<string, string | boolean | undefined>, out: Out, argv: string[]): Promise<void> {
  const def = BENCHES[name];
  if (def === undefined) throw new CwasiError('E_CONFIG', `no benchmark "${name}"; available: ${Object.keys(BENCHES).join(', ')}`);
  const sizesText = (o.sizes as string | undefined) ?? def.defaultSizes;
  const report: BenchReport = await def.run({
    ...(sizesText !== undefined ? { sizes: parseSizes(sizesText) } : {}),
    quick: o.quick === true,
    ...(o.executions !== undefined ? { executions: parsePositiveInt(o.executions as string, '--executions') } : {}),
    ...(o.concurrency !== undefined ? { concurrency: parsePositiveInt(o.concurrency as string, '--concurrency') } : {}),
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads as string, '--threads') } : {}),
    ...(o.json !== undefined ? { json: o.json as string } : {}),
    ...(o.out !== undefined ? { out: o.out as string } : {}),
    ...(o.modes !== undefined ? { modes: (o.modes as string).split(',').map((m) => m.trim()).filter(Boolean) } : {}),
    progress: true,
    command: `cwasi ${argv.join(' ')}`,
    log: (line) => out.err(line),
  });
  const m = report.meta;
  out.out(`cwasi bench ${name} — Node ${m.node}, ${m.cpu}, ${m.cores} cores`);
  if (report.table !== undefined) out.out(report.table);
  else out.out(table(['bench', 'mode', 'payload', 'n', 'p50', 'p99', 'mean', 'req/s', 'paper req/s', 'GB/s'], report.results.map((r) => [
    r.bench + (r.metric && r.metric.length < 24 ? ` (${r.metric})` : ''), r.mode, formatSize(r.payloadBytes), r.executions,
    formatMs(r.latencyMs.p50), formatMs(r.latencyMs.p99), formatMs(r.latencyMs.mean),
    r.throughputRps.toFixed(1), r.throughputPaperRps.toFixed(1), r.gbPerSec === null ? '-' : r.gbPerSec.toFixed(2),
  ])));
  if (report.goals.length > 0) {
    out.out('goals');
    for (const g of report.goals) out.out(`  ${g.pass ? 'met ' : 'MISSED'}  ${g.name}: ${g.measured} (target ${g.target})`);
  }
  for (const n of report.notes ?? []) out.out(`note: ${n}`);
  if (o.json !== undefined) {
    writeReport(o.json as string, report);
    out.out(`wrote ${o.json}`);
  }
}

interface NodeOptions extends NatsFlags {
  nats: string;
  listen: string;
  secretFile?: string;
  name?: string;
  cluster: string;
  threads?: string;
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
  const engine = await Engine.create({
    ...(o.threads !== undefined ? { threads: parsePositiveInt(o.threads, '--threads') } : {}),
    cluster: {
      nats: o.nats, listen: o.listen, cluster: o.cluster,
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.secretFile !== undefined ? { secretFile: o.secretFile } : {}),
      ...(tls !== undefined ? { tls } : {}),
      ...(natsAuth !== undefined ? { natsAuth } : {}),
    },
  });
  const s = engine.clusterStats()!;
  out.out(`cwasi node ${s.node} ready: cluster "${o.cluster}", networked buffer on ${s.address}, NATS ${o.nats}`);
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

function cmdFunctions(out: Out, json: boolean): void {
  const dir = new URL('../../functions/manifest.json', import.meta.url);
  const manifest = JSON.parse(readFileSync(dir, 'utf8')) as { functions: Record<string, { source: string; memoryBase: number; staticEnd: number; testOnly: boolean }> };
  if (json) {
    out.out(JSON.stringify(manifest.functions, null, 2));
    return;
  }
  out.out(table(['function', 'source', 'static data', 'kind'], Object.entries(manifest.functions).map(([n, f]) => [
    n, f.source, `[${f.memoryBase}, ${f.staticEnd})`, f.testOnly ? 'test fixture' : 'workload',
  ])));
}

export function buildProgram(out: Out = io): Command {
  const program = new Command();
  program
    .name('cwasi')
    .description('Run AssemblyScript functions on a worker pool and move data between them by the fastest channel their placement allows.')
    .showHelpAfterError()
    .exitOverride();

  addClusterFlags(program.command('run'))
    .description('deploy a workflow (or one bundled function) and invoke it')
    .argument('<workflow>', 'workflow JSON file, or the name of a bundled function')
    .option('--input <file>', "input bytes from a file ('-' for stdin)")
    .option('--size <size>', 'generate the input: a producer spec for producer-spec workflows, else that many bytes (e.g. 2MiB)')
    .option('--seed <n>', 'seed of the generated input', '1')
    .option('--text <text>', 'input as UTF-8 text')
    .option('--repeat <n>', 'invocations to run', '1')
    .option('--concurrency <n>', 'invocations in flight at once', '1')
    .option('--mode <edge=mode>', `force an IFC mode: from->to=MODE or *=MODE (${IFC_MODES.join(', ')}); repeatable`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--timeout <ms>', 'deadline per invocation in milliseconds')
    .option('--threads <n>', 'worker threads')
    .option('--output <file>', "write the output function's bytes to a file")
    .option('--json', 'print a JSON report instead of text')
    .option('-v, --verbose', 'print per-step timings and guest logs')
    .action((arg: string, o: RunOptions) => cmdRun(arg, o, out));

  addClusterFlags(program.command('plan'))
    .description("print each function's placement and each edge's IFC mode with the reason")
    .argument('<workflow>', 'workflow JSON file, or the name of a bundled function')
    .option('--mode <edge=mode>', 'force an IFC mode (as for run); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON')
    .action((arg: string, o: { json?: boolean; mode: string[] } & ClusterFlags) => cmdPlan(arg, o, out));

  program.command('validate')
    .description('check a workflow file against the schema and the graph rules')
    .argument('<workflow>', 'workflow JSON file')
    .action((arg: string) => {
      const t = loadTarget(arg);
      if (t.doc === undefined) throw new CwasiError('E_WORKFLOW_INVALID', `${arg} is not a file`);
      out.out(`${arg}: workflow "${t.doc.name}" is valid (${Object.keys(t.doc.functions).length} functions, ${(t.doc.edges ?? []).length} edges)`);
    });

  program.command('functions')
    .description('list the bundled functions and their static data regions')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => cmdFunctions(out, o.json === true));

  const bench = program.command('bench')
    .description(`run a benchmark: ${Object.keys(BENCHES).join(', ')}`)
    .argument('<name>', 'benchmark name')
    .option('--sizes <list>', 'payload sizes, e.g. 2MiB,16MiB,100MiB')
    .option('--json <file>', 'write the JSON report to a file')
    .option('--out <dir>', 'write plots and pages to a directory (benches that draw)')
    .option('--quick', 'fewer executions (CI-sized)')
    .option('--executions <n>', 'executions per row')
    .option('--concurrency <n>', 'calls in flight (throughput rows)')
    .option('--threads <n>', 'worker threads')
    .option('--modes <list>', 'only these modes')
    .action((name: string, o: Record<string, string | boolean | undefined>) => cmdBench(name, o, out, process.argv.slice(2)));
  bench.addHelpText('after', `\nBenchmarks:\n${Object.entries(BENCHES).map(([n, d]) => `  ${n.padEnd(14)} ${d.description}`).join('\n')}`);

  addNatsFlags(program.command('node'))
    .description('run an engine node of a cluster: registers in NATS JetStream, serves deploy/run requests, streams payloads over the Networked Buffer')
    .requiredOption('--nats <url>', 'NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222')
    .option('--listen <host:port>', 'Networked Buffer listener (loopback unless an address is given)', '127.0.0.1:0')
    .option('--secret-file <file>', 'file holding the cluster secret (else CWASI_SECRET)')
    .option('--name <name>', 'node name (default <hostname>-<pid>)')
    .option('--cluster <name>', 'cluster name', 'default')
    .option('--threads <n>', 'worker threads')
    .option('--tls-cert <file>', 'Networked Buffer over TLS: this node\'s certificate (PEM); needs --tls-key and --tls-ca')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'the cluster CA that signed every node\'s certificate (PEM)')
    .action((o: NodeOptions) => cmdNode(o, out));

  program.addOption(new Option('--no-color').hideHelp());
  return program;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[], out: Out = io): Promise<number> {
  const program = buildProgram(out);
  program.configureOutput({ writeOut: (s) => out.out(s.trimEnd()), writeErr: (s) => out.err(s.trimEnd()) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    if (err instanceof CwasiError) {
      out.err(`error ${err.code}: ${err.message}`);
      return err.code === 'E_CONFIG' ? 2 : 1;
    }
    out.err(`error: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}
