// Mode overrides are checked, not ignored: a `modes` key naming no edge of
// the target is E_MODE_REFUSED; forcing `networked` between two functions of
// one host is refused when planning (E_MODE_REFUSED with the reason) instead
// of failing at run time; a blanket `*` falls back to the rules where the
// placement cannot serve it and the plan says so. A refused `embedded` keeps
// its own code, E_EMBED_REFUSED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { cwasi } from './helpers/cli.js';

const DOC: WorkflowDocument = {
  name: 'checked',
  functions: { p: { module: 'producer', trusted: true, domain: 'm' }, c: { module: 'checksum', trusted: true, domain: 'm' }, u: { module: 'checksum' } },
  edges: [{ from: 'p', to: 'c' }, { from: 'p', to: 'u' }],
  output: 'c',
};
const INPUT = workloads.producerSpec(4096, 5);
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
  await engine.deploy(DOC);
});

test.after(async () => {
  await engine.close();
});

test('a modes key that names no edge is refused, by plan and by invoke', async () => {
  throwsWith(() => engine.plan('checked', { 'p->x': 'copy' }), 'E_MODE_REFUSED', /"p->x", which is not an edge of "checked" \(its edges: p->c, p->u/);
  const before = engine.stats().invocations;
  await rejectsWith(engine.invoke('checked', INPUT, { modes: { 'c->p': 'copy' } }), 'E_MODE_REFUSED', /"c->p"/);
  await rejectsWith(engine.invoke('checked', INPUT, { modes: { 'p->c': 'teleport' as 'copy' } }), 'E_CONFIG', /"teleport" is not one of/);
  assert.is(engine.stats().invocations.completed, before.completed, 'nothing ran');
  // The same override on a real edge is applied.
  const r = await engine.invokeWithReport('checked', INPUT, { modes: { 'p->u': 'copy' } });
  assert.equal(r.edges.map((e) => `${e.from}->${e.to}=${e.mode}`), ['p->c=embedded', 'p->u=copy']);
});

test('forcing networked within one host is refused when planning, with the reason', async () => {
  const e = throwsWith(() => engine.plan('checked', { 'p->u': 'networked' }), 'E_MODE_REFUSED', /p → u: networked refused: caller and callee are both on host local/);
  assert.equal(e.details, { caller: 'p', callee: 'u', mode: 'networked', reason: e.details!.reason });
  await rejectsWith(engine.invoke('checked', INPUT, { modes: { 'p->u': 'networked' } }), 'E_MODE_REFUSED');
  // In the document too: the deploy is refused and leaves nothing behind.
  const before = engine.functions().map((f) => f.name).sort();
  await rejectsWith(engine.deploy({ name: 'netdoc', functions: { a: { module: 'producer' }, b: { module: 'checksum' } }, edges: [{ from: 'a', to: 'b', mode: 'networked' }] }), 'E_MODE_REFUSED');
  assert.equal(engine.functions().map((f) => f.name).sort(), before);
  // Embedding keeps its own code.
  throwsWith(() => engine.plan('checked', { 'p->u': 'embedded' }), 'E_EMBED_REFUSED', /u is not trusted/);
});

test('a blanket * falls back to the rules where refused, and the plan says why', async () => {
  const plan = engine.plan('checked', { '*': 'networked' });
  assert.equal(plan.edges.map((e) => e.mode), ['embedded', 'local']);
  for (const e of plan.edges) assert.match(e.overrideRefused ?? '', /networked refused: caller and callee are both on host local/);
  const r = await engine.invokeWithReport('checked', INPUT, { modes: { '*': 'networked' } });
  assert.equal(r.edges.map((e) => e.mode), ['embedded', 'local']);
  // Where it applies, no note.
  assert.ok(engine.plan('checked', { '*': 'copy' }).edges.every((e) => e.mode === 'copy' && e.overrideRefused === undefined));
});

test('the CLI: plan prints the fallback, run refuses an unknown edge', async () => {
  const plan = await cwasi('plan', 'examples/sequential.json', '--mode', '*=embedded');
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /producer → checksum: the \* override fell back to local \(embedded refused: producer is not trusted\)/);
  const run = await cwasi('run', 'examples/sequential.json', '--mode', 'producer->checksun=copy');
  assert.is(run.code, 1);
  assert.match(run.stderr, /^error E_MODE_REFUSED: modes names "producer->checksun", which is not an edge of "sequential"/);
});

test.run();
