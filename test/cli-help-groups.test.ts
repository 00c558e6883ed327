// Every help lists what most users need first: `cwasi run --help` opens with
// the input options and ends with the cluster and NATS ones, each kind under
// its own heading; `cwasi --help` groups the commands by purpose. Old flag
// spellings stay out of the help.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cwasi } from './helpers/cli.js';

/** The headings of a help text ("Input:", "Cluster (with --nats):"), in order: unindented, over indented lines. */
function headings(help: string): string[] {
  const lines = help.split('\n');
  return lines.filter((l, i) => /^\S.*:$/.test(l) && lines[i + 1]?.startsWith('  ') === true);
}

/** The line index of the first line listing `flag` as an option. */
function lineOf(help: string, flag: string): number {
  return help.split('\n').findIndex((l) => new RegExp(`^\\s+(-\\w, )?${flag}\\b`).test(l));
}

test('run --help: input, modes and placement, output, execution, batch, then cluster and NATS', async () => {
  const r = await cwasi('run', '--help');
  assert.is(r.code, 0, r.stderr);
  assert.equal(headings(r.stdout), [
    'Arguments:', 'Input:', 'Modes and placement:', 'Output:', 'Execution:', 'Batch (with --batch):',
    'Cluster (with --nats):', 'NATS credentials and TLS:', 'Examples:',
  ]);
  const at = (flag: string) => {
    const i = lineOf(r.stdout, flag);
    assert.ok(i >= 0, `${flag} is listed`);
    return i;
  };
  // The common options come first, within the first screen.
  for (const flag of ['--input', '--size', '--text', '--batch']) assert.ok(at(flag) < 20, `${flag} at line ${at(flag)}`);
  const lastCommon = Math.max(...['--input', '--size', '--text', '--mode', '--out', '--json', '--repeat', '--timeout', '--retries'].map(at));
  for (const flag of ['--nats', '--cluster', '--secret-file', '--listen', '--nats-user', '--nats-tls-key']) {
    assert.ok(at(flag) > lastCommon, `${flag} after the common options`);
  }
});

test('plan --help and node --help keep the NATS credentials last', async () => {
  for (const cmd of ['plan', 'node']) {
    const r = await cwasi(cmd, '--help');
    assert.is(r.code, 0, r.stderr);
    const h = headings(r.stdout).filter((x) => x !== 'Examples:');
    assert.is(h[h.length - 1], 'NATS credentials and TLS:', `${cmd}: ${h.join(' | ')}`);
    if (cmd === 'plan') assert.ok(lineOf(r.stdout, '--mode') < lineOf(r.stdout, '--nats'), 'plan: --mode before --nats');
  }
});

test('cwasi --help: commands grouped by purpose, one line each, with examples', async () => {
  const r = await cwasi('--help');
  assert.is(r.code, 0, r.stderr);
  assert.equal(headings(r.stdout), ['Options:', 'Run functions:', 'Build and inspect:', 'Cluster:', 'Benchmarks:', 'Examples:']);
  const commands = r.stdout.split('\n').filter((l) => /^  [a-z][\w-]* /.test(l)).map((l) => l.trim().split(' ')[0]);
  assert.equal(commands, ['run', 'plan', 'validate', 'functions', 'init', 'build', 'inspect', 'node', 'nats-config', 'bench']);
  // A summary per command, none wrapped onto a second line.
  assert.not.match(r.stdout, /^ {20,}\S/m);
  assert.match(r.stdout, /cwasi help <command>/);
});

test('old flag spellings are not in the help', async () => {
  for (const [cmd, old] of [['run', '--output'], ['run', '--inputs'], ['bench', '--executions'], ['bench', '--legacy-json-file']] as const) {
    const r = await cwasi(cmd, '--help');
    assert.is(lineOf(r.stdout, old), -1, `${cmd} --help lists ${old}`);
  }
});

test.run();
