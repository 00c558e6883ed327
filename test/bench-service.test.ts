// cwasi-test: exclusive (runs a benchmark with CPU-bound contention processes)
// `cwasi bench service` at a small size with `--contend 1`: both rows (small
// calls alone and beside the large call) with their latency and loop delay,
// the scheduler-only reference row, the plain-Piscina small-call reference
// row (with at least as many calls), both goals, the contention recorded in
// the report, and no contending process left once the command has exited.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cwasi } from './helpers/cli.js';

/** Processes still spinning with the contention script's clock loop. */
function contenders(): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('Date.now() + 3600000'));
}

test('rows, goals and the contention; nothing left running after', async () => {
  const before = contenders().length;
  const r = await cwasi('bench', 'service', '--quick', '--sizes', '16MiB', '--repeat', '100', '--contend', '1', '--json');
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    meta: { contend?: number; bigBytes: number };
    results: Array<{ mode: string; executions: number; loopDelayMaxMs: number; latencyMs: { p99Ms: number } }>;
    goals: Array<{ name: string; pass: boolean; measured: string }>;
  };
  assert.is(report.meta.contend, 1);
  assert.is(report.meta.bigBytes, 16 * 2 ** 20);
  assert.equal(report.results.map((x) => x.mode), ['small-alone', 'small-beside-16MiB', 'raw-thread-beside-busy-worker', 'raw-piscina-small-beside-busy-worker']);
  assert.ok(report.results[2]!.loopDelayMaxMs >= 0, 'the reference has a loop delay');
  for (const row of [...report.results.slice(0, 2), report.results[3]!]) {
    assert.ok(row.executions >= 100, `${row.mode}: ${row.executions} calls`);
    assert.ok(row.loopDelayMaxMs >= 0 && row.latencyMs.p99Ms > 0, JSON.stringify(row));
  }
  assert.equal(report.goals.map((g) => g.name), ['event-loop delay max beside a 16 MiB call', 'small-call p99 beside a 16 MiB call']);
  assert.match(report.goals[1]!.measured, /a plain Piscina pool's small calls beside a busy worker: p99 [0-9.]+ ms/);
  assert.is(contenders().length, before, 'the contending process was stopped');
});

test('--contend takes a whole number', async () => {
  const r = await cwasi('bench', 'service', '--contend', 'two');
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /--contend/);
});

test.run();
