// A mistyped option is answered in one line naming the nearest valid one,
// exit 2, not followed by the whole help (which for `run` was 60 lines).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildProgram } from '../engine/cli/main.js';
import { cwasi } from './helpers/cli.js';

test('an unknown option: one line with the nearest valid option, exit 2', async () => {
  const r = await cwasi('run', '--inptu', 'x');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd(), "error: unknown option '--inptu' (did you mean --input?); see --help");
  assert.is(r.stdout, '');
});

test('an unknown option with nothing near: one line, exit 2', async () => {
  const r = await cwasi('inspect', '--zzzzzz', 'm.wasm');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^error: unknown option '--zzzzzz'; see --help/);
});

test('an unknown command: one line with the nearest, exit 2', async () => {
  const r = await cwasi('rnu');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /unknown command 'rnu' \(did you mean run\?\)/);
});
/** `--input` → `--inptu`: the last two letters swapped, one edit away. */
function mistype(flag: string): string {
  return flag.slice(0, -2) + flag.slice(-1) + flag.slice(-2, -1);
}

test('every command, every help group: a mistyped option names the one meant', async () => {
  for (const cmd of buildProgram().commands) {
    // The first option of each heading the command's help shows.
    const firsts = new Map<string, string>();
    for (const o of cmd.options) {
      if (!o.hidden && o.long !== undefined && o.long.length >= 6) firsts.set(o.helpGroupHeading ?? 'Options:', firsts.get(o.helpGroupHeading ?? 'Options:') ?? o.long);
    }
    // cwasi node checks its required --nats before anything else.
    const needs = cmd.name() === 'node' ? ['--nats', 'nats://127.0.0.1:1'] : [];
    for (const [group, flag] of firsts) {
      const typo = mistype(flag);
      const r = await cwasi(cmd.name(), ...needs, typo);
      const what = `cwasi ${cmd.name()} ${typo} (${group})`;
      assert.is(r.code, 2, what);
      assert.is(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error: unknown option '${typo}' \\(did you mean ${flag}\\?\\); see --help`), what);
    }
  }
});

test('an old spelling is not offered as the nearest option', async () => {
  const r = await cwasi('run', 'x', '--outptu', 'f');
  assert.is(r.stderr.trimEnd(), "error: unknown option '--outptu' (did you mean --out?); see --help");
});

test.run();
