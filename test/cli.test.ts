// The `cwasi` command line: run, plan, validate, functions, bench, help and
// usage errors, through the real binary.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as workloads from '../engine/workloads.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'cwasi.js');
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-cli-'));

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('run prints the placement, each edge with its mode and the result', async () => {
  const r = await cwasi('run', 'examples/demo.json', '--size', '256KiB', '--seed', '9');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /producer → transform\s+embedded \(same task\)/);
  assert.match(r.stdout, /transform → checksum-isolated\s+local\s+same host local, not embeddable: checksum-isolated is not trusted/);
  const sum = workloads.checksum(workloads.transform(workloads.produce(256 * 1024, 9)));
  const hex = `0x${sum.toString(16).padStart(8, '0')}`;
  assert.match(r.stdout, new RegExp(`checksum-embedded \\(output\\): cwasi-sum32 ${hex} over 262144 bytes`));
  assert.match(r.stdout, new RegExp(`checksum-isolated: cwasi-sum32 ${hex}`));
});

test('run --json --repeat reports latency and both throughputs', async () => {
  const r = await cwasi('run', 'examples/sequential.json', '--size', '64KiB', '--repeat', '20', '--concurrency', '4', '--json', '--mode', '*=copy');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.invocations, 20);
  assert.equal(j.edges.map((e: { mode: string }) => e.mode), ['copy']);
  assert.is(j.schemaVersion, 1);
  assert.ok(j.latencyMs.p50Ms > 0 && j.throughputRps > 0 && j.throughputPaperRps > 0);
  assert.is(j.outputs.checksum.describe, `cwasi-sum32 0x${workloads.checksum(workloads.produce(65536, 1)).toString(16).padStart(8, '0')} over 65536 bytes`);
});

test('run a bundled function by name with --input and --out', async () => {
  const input = join(tmp, 'in.bin');
  const output = join(tmp, 'out.bin');
  writeFileSync(input, workloads.produce(1000, 5));
  const r = await cwasi('run', 'transform', '--input', input, '--out', output);
  assert.is(r.code, 0, r.stderr);
  assert.ok(Buffer.from(readFileSync(output)).equals(Buffer.from(workloads.transform(workloads.produce(1000, 5)))));
});

test('plan --json explains every edge', async () => {
  const r = await cwasi('plan', 'examples/fan-out.json', '--json');
  assert.is(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.is(plan.schemaVersion, 1);
  assert.is(plan.edges.length, 4);
  assert.equal(plan.edges.map((e: { mode: string }) => e.mode), ['embedded', 'embedded', 'local', 'local']);
  assert.ok(plan.edges.every((e: { reason: string }) => e.reason.length > 10));
});

test('validate reports the bad field and exits non-zero', async () => {
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'x', functions: { a: { module: 'producer', trusted: 'no' } } }));
  const r = await cwasi('validate', bad);
  assert.is(r.code, 1);
  assert.match(r.stderr, /error E_WORKFLOW_INVALID: .*\/functions\/a\/trusted must be boolean/s);
  const good = await cwasi('validate', 'examples/demo.json');
  assert.is(good.code, 0);
  assert.match(good.stdout, /is valid/);
});

test('usage errors exit 2 with a clear message', async () => {
  const unknownMode = await cwasi('run', 'examples/demo.json', '--mode', '*=teleport');
  assert.is(unknownMode.code, 2);
  assert.match(unknownMode.stderr, /"teleport" is not one of embedded, local, networked, remote-kv, copy/);
  const badSize = await cwasi('run', 'examples/demo.json', '--size', 'lots');
  assert.is(badSize.code, 2);
  assert.match(badSize.stderr, /"lots" is not a size/);
  const missing = await cwasi('run');
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'workflow'/);
  const unknown = await cwasi('run', 'no-such-thing');
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /E_UNKNOWN_FUNCTION/);
});

test('help lists the commands and the benchmarks', async () => {
  const r = await cwasi('--help');
  assert.is(r.code, 0);
  for (const c of ['run', 'plan', 'validate', 'functions', 'bench']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  const b = await cwasi('bench', '--help');
  assert.match(b.stdout, /overhead/);
});

test('functions lists bundled workloads with their static regions', async () => {
  const r = await cwasi('functions', '--json');
  const doc = JSON.parse(r.stdout);
  assert.is(doc.schemaVersion, 1);
  for (const f of ['producer', 'checksum', 'transform', 'wordcount', 'aggregate', 'scatter']) assert.ok(doc.functions[f], f);
});

test('bench overhead --quick --json prints the JSON report format', async () => {
  const r = await cwasi('bench', 'overhead', '--quick', '--repeat', '1000', '--json');
  assert.is(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.is(rep.schemaVersion, 1);
  for (const k of ['node', 'cpu', 'cores', 'date', 'command']) assert.ok(k in rep.meta, `meta.${k}`);
  // One row per subject and load: 1 call in flight, then 64.
  assert.equal(rep.results.map((x: { mode: string; concurrency: number }) => `${x.mode}@${x.concurrency}`), ['piscina-raw@1', 'piscina-raw@64', 'engine@1', 'engine@64']);
  for (const row of rep.results) {
    for (const k of ['bench', 'mode', 'payloadBytes', 'executions', 'latencyMs', 'throughputRps', 'throughputPaperRps', 'gbPerSec']) assert.ok(k in row, k);
    assert.equal(Object.keys(row.latencyMs), ['count', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'maxMs']);
    const l = row.latencyMs;
    assert.ok(l.p50Ms > 0 && l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.p99Ms <= l.maxMs && l.meanMs > 0);
  }
  assert.equal(rep.goals.map((g: { name: string }) => g.name), [
    'engine throughput vs raw Piscina, 64 in flight', 'engine throughput vs raw Piscina, 1 in flight', 'engine p50 vs raw Piscina p50, 1 in flight',
  ]);
  for (const row of rep.results) assert.ok(row.throughputRps > 0, `${row.mode}@${row.concurrency} throughput`);
});

test.run();
