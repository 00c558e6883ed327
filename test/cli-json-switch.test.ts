// `--json` means one thing on every command that has it: a switch that prints
// the command's report as JSON on stdout. It takes no value, so it never eats
// the argument after it (`cwasi bench --json overhead`), and stdout is the JSON
// document alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildProgram } from '../engine/cli/main.js';
import { cwasi } from './helpers/cli.js';

test('every --json is a switch', () => {
  const withJson = buildProgram().commands.filter((c) => c.options.some((o) => o.long === '--json'));
  assert.equal(withJson.map((c) => c.name()).sort(), ['bench', 'build', 'functions', 'inspect', 'plan', 'run']);
  for (const c of withJson) {
    const json = c.options.find((o) => o.long === '--json')!;
    assert.ok(json.isBoolean(), `${c.name()} --json takes no value`);
    assert.not.ok(json.negate, c.name());
  }
});

/** stdout as one JSON document, with schemaVersion first. */
function document(r: { code: number; stdout: string; stderr: string }, what: string): Record<string, unknown> {
  assert.is(r.code, 0, `${what}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.is(Object.keys(doc)[0], 'schemaVersion', what);
  return doc;
}

test('--json before or after the argument: the same JSON on stdout', async () => {
  for (const args of [['plan', '--json', 'examples/fan-out.json'], ['plan', 'examples/fan-out.json', '--json']]) {
    assert.is(document(await cwasi(...args), args.join(' ')).target, 'fan-out');
  }
  document(await cwasi('functions', '--json'), 'functions');
  const run = document(await cwasi('run', '--json', 'transform', '--text', 'hi'), 'run');
  assert.is(run.target, 'transform');
});

test('bench --json prints the report on stdout and nothing else there; progress stays on stderr', async () => {
  for (const args of [['bench', 'overhead', '--quick', '--repeat', '50', '--json'], ['bench', '--json', 'overhead', '--quick', '--repeat', '50']]) {
    const r = await cwasi(...args);
    const doc = document(r, args.join(' '));
    assert.ok(Array.isArray(doc.results) && doc.results.length > 0, 'rows');
    assert.not.ok('table' in doc, 'the text table is not part of the document');
    assert.not.match(r.stderr, /deprecated/, 'the switch is not the old --json <file>');
  }
});

test.run();
