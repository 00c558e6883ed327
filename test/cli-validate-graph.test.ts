// `cwasi validate` applies the graph rules deploy applies, not only the
// schema: a cycle, a self-loop, an edge to an undeclared function, a
// duplicate edge and two sinks without `output` are each reported as
// invalid, and `validate` / `plan` take several files and report each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cwasi } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-validate-'));
const fn = { module: 'checksum' };

function file(name: string, doc: unknown): string {
  const p = join(tmp, `${name}.json`);
  writeFileSync(p, JSON.stringify(doc));
  return p;
}

const BAD: Array<[string, unknown, RegExp]> = [
  ['cycle', { name: 'c', functions: { a: fn, b: fn, c: fn }, edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }] }, /cycle through a, b, c/],
  ['self-loop', { name: 's', functions: { a: fn }, edges: [{ from: 'a', to: 'a' }] }, /connects "a" to itself/],
  ['undeclared', { name: 'u', functions: { a: fn }, edges: [{ from: 'a', to: 'ghost' }] }, /\/edges\/0\/to names "ghost", which is not declared/],
  ['duplicate', { name: 'd', functions: { a: fn, b: fn }, edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'b' }] }, /\/edges\/1 repeats the edge a → b/],
  ['two-sinks', { name: 't', functions: { a: fn, b: fn, c: fn }, edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }] }, /2 sinks \(b, c\); name the result with \/output/],
];

for (const [name, doc, message] of BAD) {
  test(`validate rejects a ${name}, as plan does`, async () => {
    const path = file(name, doc);
    const v = await cwasi('validate', path);
    assert.is(v.code, 1, v.stdout);
    assert.match(v.stderr, new RegExp(`^error E_WORKFLOW_INVALID: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${message.source}`, 'm'));
    assert.not.match(v.stdout, /valid/);
  });
}

test('validate reports each of several files and fails when any is invalid', async () => {
  const good = file('good', { name: 'g', functions: { a: { module: 'producer' }, b: fn }, edges: [{ from: 'a', to: 'b' }] });
  const cycle = file('cycle2', BAD[0]![1]);
  const selfLoop = file('self2', BAD[1]![1]);
  const r = await cwasi('validate', good, cycle, 'examples/demo.json', selfLoop);
  assert.is(r.code, 1);
  assert.match(r.stdout, new RegExp(`${good}: workflow "g" is valid \\(2 functions, 1 edge, output b\\)`));
  assert.match(r.stdout, /examples\/demo\.json: workflow "demo" is valid/);
  assert.match(r.stderr, /cycle2\.json: .*cycle/);
  assert.match(r.stderr, /self2\.json: .*to itself/);
  assert.match(r.stderr, /2 of 4 workflow files are invalid/);
  const ok = await cwasi('validate', good, 'examples/fan-in.json');
  assert.is(ok.code, 0, ok.stderr);
});

test('plan takes several targets and plans each; a bad one is reported, the others planned', async () => {
  const r = await cwasi('plan', 'examples/sequential.json', file('cycle3', BAD[0]![1]), 'examples/fan-in.json', '--json');
  assert.is(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.schemaVersion, 1);
  assert.equal(doc.plans.map((p: { target: string }) => p.target), ['sequential', 'fan-in']);
  assert.match(r.stderr, /^error E_WORKFLOW_INVALID: .*cycle3\.json: .*cycle/m);
  const text = await cwasi('plan', 'examples/sequential.json', 'examples/fan-in.json');
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /workflow "sequential" \(examples\/sequential\.json\)[\s\S]*workflow "fan-in" \(examples\/fan-in\.json\)/);
});

test.run();
