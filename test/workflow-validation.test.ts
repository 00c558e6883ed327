// Workflow documents are validated by schema and graph rules, with errors
// that name the bad field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseWorkflow, validateWorkflowDocument } from '../engine/index.js';
import { buildGraph } from '../engine/workflow/graph.js';
import { throwsWith } from './helpers/assert-error.js';

const ok = {
  name: 'wf',
  functions: { a: { module: 'producer' }, b: { module: 'checksum', trusted: true, domain: 'x' } },
  edges: [{ from: 'a', to: 'b' }],
};

test('a valid document passes and builds a graph', () => {
  const g = buildGraph(validateWorkflowDocument(structuredClone(ok)));
  assert.equal(g.entries, ['a']);
  assert.equal(g.sinks, ['b']);
  assert.is(g.output, 'b');
  assert.equal(g.order, ['a', 'b']);
});

test('schema errors name the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ functions: ok.functions }, /must have required property 'name'/],
    [{ ...ok, extra: 1 }, /unknown field "extra"/],
    [{ ...ok, functions: { a: { module: 'producer', trusted: 'yes' } } }, /\/functions\/a\/trusted must be boolean/],
    [{ ...ok, functions: { a: {} } }, /\/functions\/a must have required property 'module'/],
    [{ ...ok, functions: { 'bad name!': { module: 'x' } } }, /function name "bad name!" is not allowed/],
    [{ ...ok, edges: [{ from: 'a' }] }, /\/edges\/0 must have required property 'to'/],
    [{ ...ok, edges: [{ from: 'a', to: 'b', mode: 'teleport' }] }, /\/edges\/0\/mode must be one of/],
    [{ ...ok, functions: { a: { module: 'producer', replicas: 0 } } }, /\/functions\/a\/replicas must be >= 1/],
    [{ ...ok, input: { kind: 'video' } }, /\/input\/kind must be one of/],
    [{ ...ok, functions: {} }, /\/functions must NOT have fewer than 1 properties/],
  ];
  for (const [doc, re] of cases) throwsWith(() => validateWorkflowDocument(doc), 'E_WORKFLOW_INVALID', re);
});

test('every problem is listed at once', () => {
  const e = throwsWith(() => validateWorkflowDocument({ name: 'x', functions: { a: { module: 1, trusted: 2 } } }), 'E_WORKFLOW_INVALID');
  assert.ok((e.details?.problems as string[]).length >= 2);
});

test('text that is not JSON is E_WORKFLOW_INVALID', () => {
  throwsWith(() => parseWorkflow('{ "name": ', 'wf.json'), 'E_WORKFLOW_INVALID', /wf\.json is not valid JSON/);
});

test('graph rules: unknown function, self loop, duplicate edge, cycle, several sinks, bad output', () => {
  const g = (edges: unknown[], extra: object = {}) => () => buildGraph(validateWorkflowDocument({
    name: 'g', functions: { a: { module: 'm' }, b: { module: 'm' }, c: { module: 'm' } }, edges, ...extra,
  }));
  throwsWith(g([{ from: 'a', to: 'z' }]), 'E_WORKFLOW_INVALID', /\/edges\/0\/to names "z"/);
  throwsWith(g([{ from: 'a', to: 'a' }]), 'E_WORKFLOW_INVALID', /\/edges\/0 connects "a" to itself/);
  throwsWith(g([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'a', to: 'b' }]), 'E_WORKFLOW_INVALID', /\/edges\/2 repeats/);
  throwsWith(g([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }]), 'E_WORKFLOW_INVALID', /cycle through a, b, c/);
  throwsWith(g([{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }]), 'E_WORKFLOW_INVALID', /2 sinks \(b, c\); name the result with \/output/);
  throwsWith(g([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }], { output: 'q' }), 'E_WORKFLOW_INVALID', /\/output names "q"/);
  // Several sinks are fine once the output is named; fan-in order follows the edges.
  const graph = buildGraph(validateWorkflowDocument({
    name: 'g', functions: { a: { module: 'm' }, b: { module: 'm' }, c: { module: 'm' } },
    edges: [{ from: 'b', to: 'c' }, { from: 'a', to: 'c' }],
  }));
  assert.equal(graph.inEdges.get('c')!.map((e) => e.from), ['b', 'a']);
});

test.run();
