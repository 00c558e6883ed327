// Malformed workflows: every problem is E_WORKFLOW_INVALID naming the bad
// field by its JSON pointer; a refused deploy deploys nothing (the same names
// deploy cleanly afterwards) and the engine keeps serving.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CwasiError, Engine, parseWorkflow, validateWorkflowDocument, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { buildGraph } from '../engine/workflow/graph.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { SEED, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, settleAll } from './helpers/settle.js';

let engine: Engine;
let dir: string;
const rnd = prng(SEED ^ 0x3f1);

/** A valid two-step workflow: producer → checksum. */
function chain(name: string, producer = 'p', consumer = 'c'): WorkflowDocument {
  return {
    name,
    functions: { [producer]: { module: 'producer' }, [consumer]: { module: 'checksum' } },
    edges: [{ from: producer, to: consumer }],
  };
}

/** Run a producer → checksum workflow and check its output against the mirrors. */
async function checkChain(target: string): Promise<void> {
  const size = 1 + Math.floor(rnd() * 5000);
  const seed = Math.floor(rnd() * 2 ** 32);
  const out = await engine.invoke(target, workloads.producerSpec(size, seed));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, seed)), length: size }], `${target}(${size}, ${seed})`);
}

/** What is deployed, to prove a refused deploy added nothing. */
function deployed(): { functions: string[]; workflows: string[] } {
  return { functions: engine.functions().map((f) => f.name).sort(), workflows: engine.workflowNames().sort() };
}

/** engine.deploy(doc) must reject with `code` matching `message`, and deploy nothing. */
async function refused(doc: unknown, code: CwasiError['code'], message: RegExp): Promise<CwasiError> {
  const before = deployed();
  const e = await rejectsWith(engine.deploy(doc as WorkflowDocument), code, message);
  assert.equal(deployed(), before, 'a refused deploy must not deploy anything');
  return e;
}

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = mkdtempSync(join(tmpdir(), 'cwasi-errors-workflow-'));
  await engine.deploy(chain('base', 'base-p', 'base-c'));
});

test.after(async () => {
  await closeEngine(engine);
  rmSync(dir, { recursive: true, force: true });
});

// ── parsing and the schema ──────────────────────────────────────────────────

test('text that is not JSON is E_WORKFLOW_INVALID naming the source', () => {
  for (const text of ['{ "name": "w", ', '', 'name: w', '{"name": "w",}']) {
    const e = throwsWith(() => parseWorkflow(text, 'flows/broken.json'), 'E_WORKFLOW_INVALID', /flows\/broken\.json is not valid JSON/);
    assert.instance(e, CwasiError);
  }
  throwsWith(() => parseWorkflow('[1, 2]', 'list.json'), 'E_WORKFLOW_INVALID', /list\.json is invalid:[\s\S]*\(document\) must be object/);
  throwsWith(() => parseWorkflow('null'), 'E_WORKFLOW_INVALID', /\(document\) must be object/);
});

test('a missing name or missing functions is named', () => {
  const e = throwsWith(() => validateWorkflowDocument({ functions: { a: { module: 'identity' } } }), 'E_WORKFLOW_INVALID', /\(document\) must have required property 'name'/);
  assert.equal(e.details?.problems, ["(document) must have required property 'name'"]);
  throwsWith(() => validateWorkflowDocument({ name: 'w' }), 'E_WORKFLOW_INVALID', /must have required property 'functions'/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: {} }), 'E_WORKFLOW_INVALID', /\/functions must NOT have fewer than 1 properties/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: {} } }), 'E_WORKFLOW_INVALID', /\/functions\/a must have required property 'module'/);
});

test('an unknown field is named with its pointer, at every level', () => {
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: { module: 'identity' } }, colour: 'red' }), 'E_WORKFLOW_INVALID', /\(document\): unknown field "colour"/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: { module: 'identity', trusty: true } } }), 'E_WORKFLOW_INVALID', /\/functions\/a: unknown field "trusty"/);
  throwsWith(() => validateWorkflowDocument({
    name: 'w', functions: { a: { module: 'identity' }, b: { module: 'identity' } }, edges: [{ from: 'a', to: 'b', via: 'x' }],
  }), 'E_WORKFLOW_INVALID', /\/edges\/0: unknown field "via"/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: { module: 'identity' } }, input: { kind: 'bytes', size: 3 } }), 'E_WORKFLOW_INVALID', /\/input: unknown field "size"/);
});

test('wrong types are named with their pointer, every problem listed', () => {
  const e = throwsWith(() => validateWorkflowDocument({
    name: 'w',
    functions: { x: { module: 'identity', trusted: 'yes', replicas: 0, memoryMaxBytes: 'big' } },
    edges: {},
  }), 'E_WORKFLOW_INVALID', /\/functions\/x\/trusted must be boolean/);
  assert.match(e.message, /\/functions\/x\/replicas must be >= 1/);
  assert.match(e.message, /\/functions\/x\/memoryMaxBytes must be integer/);
  assert.match(e.message, /\/edges must be array/);
  assert.is((e.details?.problems as string[]).length, 4, e.message);
  throwsWith(() => validateWorkflowDocument({ name: 42, functions: { a: { module: 'identity' } } }), 'E_WORKFLOW_INVALID', /\/name must be string/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: { module: 7 } } }), 'E_WORKFLOW_INVALID', /\/functions\/a\/module must be string/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { a: { module: 'identity' }, b: { module: 'identity' } }, edges: [{ from: 'a', to: 3 }] }), 'E_WORKFLOW_INVALID', /\/edges\/0\/to must be string/);
  throwsWith(() => validateWorkflowDocument({ name: 'w', functions: { 'bad name': { module: 'identity' } } }), 'E_WORKFLOW_INVALID', /function name "bad name" is not allowed/);
});

test('a bad mode value is named with the allowed ones', () => {
  const doc = { name: 'w', functions: { a: { module: 'identity' }, b: { module: 'identity' } }, edges: [{ from: 'a', to: 'b', mode: 'carrier-pigeon' }] };
  throwsWith(() => validateWorkflowDocument(doc), 'E_WORKFLOW_INVALID', /\/edges\/0\/mode must be one of "embedded", "local", "networked", "remote-kv", "copy"/);
  throwsWith(() => validateWorkflowDocument({ ...doc, input: { kind: 'video' } }), 'E_WORKFLOW_INVALID', /\/input\/kind must be one of/);
});

// ── graph rules, through buildGraph and through engine.deploy ─────────────────

test('an edge naming an undeclared function is refused, naming /edges/i/from or /to', async () => {
  const to = { name: 'w-to', functions: { a: { module: 'identity' } }, edges: [{ from: 'a', to: 'ghost' }] };
  throwsWith(() => buildGraph(validateWorkflowDocument(to)), 'E_WORKFLOW_INVALID', /\/edges\/0\/to names "ghost", which is not declared in \/functions/);
  await refused(to, 'E_WORKFLOW_INVALID', /\/edges\/0\/to names "ghost"/);
  const from = { name: 'w-from', functions: { a: { module: 'identity' }, b: { module: 'checksum' } }, edges: [{ from: 'a', to: 'b' }, { from: 'phantom', to: 'b' }] };
  await refused(from, 'E_WORKFLOW_INVALID', /\/edges\/1\/from names "phantom"/);
});

test('a self-loop is refused', async () => {
  await refused({ name: 'w-self', functions: { a: { module: 'identity' } }, edges: [{ from: 'a', to: 'a' }] }, 'E_WORKFLOW_INVALID', /\/edges\/0 connects "a" to itself/);
});

test('a duplicate edge is refused', async () => {
  await refused({
    name: 'w-dup', functions: { a: { module: 'identity' }, b: { module: 'checksum' } }, edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'b', mode: 'copy' }],
  }, 'E_WORKFLOW_INVALID', /\/edges\/1 repeats the edge a → b/);
});

test('a cycle is refused, naming the functions on it', async () => {
  const e = await refused({
    name: 'w-cycle',
    functions: { src: { module: 'producer' }, a: { module: 'identity' }, b: { module: 'identity' }, c: { module: 'identity' }, out: { module: 'checksum' } },
    edges: [{ from: 'src', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'out' }],
  }, 'E_WORKFLOW_INVALID', /cycle through/);
  for (const n of ['a', 'b', 'c']) assert.match(e.message, new RegExp(`\\b${n}\\b`));
  assert.not.match(e.message, /\bsrc\b/, 'functions off the cycle are not blamed');
});

test('several sinks without /output are refused; /output naming an undeclared function too', async () => {
  const fanOut = { name: 'w-sinks', functions: { p: { module: 'producer' }, x: { module: 'checksum' }, y: { module: 'identity' } }, edges: [{ from: 'p', to: 'x' }, { from: 'p', to: 'y' }] };
  await refused(fanOut, 'E_WORKFLOW_INVALID', /2 sinks \(x, y\); name the result with \/output/);
  await refused({ ...fanOut, output: 'zzz' }, 'E_WORKFLOW_INVALID', /\/output names "zzz", which is not declared/);
  await refused({ name: 'w-islands', functions: { a: { module: 'identity' }, b: { module: 'identity' } } }, 'E_WORKFLOW_INVALID', /2 sinks/);
});

test('schema problems are refused by engine.deploy too, and deploy nothing', async () => {
  await refused({ functions: { a: { module: 'identity' } } }, 'E_WORKFLOW_INVALID', /must have required property 'name'/);
  await refused({ name: 'w-types', functions: { a: { module: 'identity', trusted: 'yes' } } }, 'E_WORKFLOW_INVALID', /\/functions\/a\/trusted must be boolean/);
  await refused({ name: 'w-mode', functions: { a: { module: 'identity' }, b: { module: 'identity' } }, edges: [{ from: 'a', to: 'b', mode: 'fast' }] }, 'E_WORKFLOW_INVALID', /\/edges\/0\/mode must be one of/);
});

test('a workflow document without /functions is refused as a workflow, naming /functions', async () => {
  // It has edges, so it cannot be a single function's config.
  const e = await refused({ name: 'w-nofns', edges: [{ from: 'a', to: 'b' }] }, 'E_WORKFLOW_INVALID', /functions/);
  assert.not.match(e.message, /buffer source/);
});

test('a refused deploy deploys nothing: the same names deploy cleanly afterwards', async () => {
  // Refused at the graph stage, with modules that differ from the later valid deploy.
  await refused({
    name: 'w-retry', functions: { rp: { module: 'identity' }, rc: { module: 'identity' } }, edges: [{ from: 'rp', to: 'rc' }, { from: 'rc', to: 'rp' }],
  }, 'E_WORKFLOW_INVALID', /cycle/);
  // Refused while loading: one module is missing; the other function must not stay behind.
  await refused({
    name: 'w-retry', functions: { rp: { module: 'identity' }, rc: { module: 'no-such-module' } }, edges: [{ from: 'rp', to: 'rc' }],
  }, 'E_WASM_MISSING', /rc: cannot read module "no-such-module"/);
  await rejectsWith(engine.invoke('w-retry', new Uint8Array(8)), 'E_UNKNOWN_FUNCTION');
  await rejectsWith(engine.invoke('rp', new Uint8Array(8)), 'E_UNKNOWN_FUNCTION');
  const res = await engine.deploy(chain('w-retry', 'rp', 'rc'));
  assert.equal(res.functions.map((f) => f.name).sort(), ['rc', 'rp']);
  await checkChain('w-retry');
});

test('a workflow whose forced embedding is refused deploys nothing', async () => {
  // Untrusted functions cannot share a memory: the deploy fails...
  await refused({
    name: 'w-embed', functions: { ep: { module: 'producer' }, ec: { module: 'checksum' } }, edges: [{ from: 'ep', to: 'ec', mode: 'embedded' }],
  }, 'E_EMBED_REFUSED', /ep → ec: embedded refused: ep is not trusted/);
  // ...and leaves nothing behind: the names are free for other modules.
  await engine.deploy({ name: 'w-embed2', functions: { ep: { module: 'identity' }, ec: { module: 'checksum' } }, edges: [{ from: 'ep', to: 'ec' }] });
  const data = workloads.produce(333, 5);
  assert.equal(workloads.readChecksums(await engine.invoke('w-embed2', data)), [{ hash: workloads.checksum(data), length: 333 }]);
});

test('a workflow that reuses a deployed function name with another module is refused and deploys nothing', async () => {
  await refused({
    name: 'w-clash', functions: { fresh: { module: 'identity' }, 'base-c': { module: 'identity' } }, edges: [{ from: 'fresh', to: 'base-c' }],
  }, 'E_WORKFLOW_INVALID', /"base-c" is already deployed with another module \(sha256 [0-9a-f]{12}, now .*identity.wasm has sha256 [0-9a-f]{12}\)/);
  await rejectsWith(engine.invoke('fresh', new Uint8Array(1)), 'E_UNKNOWN_FUNCTION');
  // A workflow may not take the name of a deployed function either.
  await refused(chain('base-p', 'q1', 'q2'), 'E_WORKFLOW_INVALID', /"base-p" already names a deployed function/);
});

test('deployFile: a missing file, bad JSON and schema errors name the file', async () => {
  const missing = join(dir, 'nowhere', 'flow.json');
  await rejectsWith(engine.deployFile(missing), 'E_IO', /cannot read workflow .*flow\.json: ENOENT/);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "name": "from-file", "functions": ');
  await rejectsWith(engine.deployFile(broken), 'E_WORKFLOW_INVALID', /broken\.json is not valid JSON/);
  const typed = join(dir, 'typed.json');
  writeFileSync(typed, JSON.stringify({ name: 'from-file', functions: { a: { module: 'identity', replicas: 'two' } } }));
  await rejectsWith(engine.deployFile(typed), 'E_WORKFLOW_INVALID', /typed\.json is invalid:[\s\S]*\/functions\/a\/replicas must be integer/);
  const relative = join(dir, 'relative.json');
  writeFileSync(relative, JSON.stringify({ name: 'from-file', functions: { a: { module: './missing.wasm' } } }));
  await rejectsWith(engine.deployFile(relative), 'E_WASM_MISSING', /cannot read module "\.\/missing\.wasm" \(ENOENT\)/);
  assert.not.ok(engine.workflowNames().includes('from-file'));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(chain('from-file', 'ff-p', 'ff-c')));
  await engine.deployFile(good);
  await checkChain('from-file');
});

test('the engine keeps serving: concurrent invocations alongside refused deploys all complete correctly', async () => {
  const runs: Array<Promise<unknown>> = [];
  const expected: Array<{ size: number; seed: number } | undefined> = [];
  for (let i = 0; i < 12; i++) {
    const size = 1 + Math.floor(rnd() * 20000);
    const seed = Math.floor(rnd() * 2 ** 32);
    runs.push(engine.invoke('base', workloads.producerSpec(size, seed)));
    expected.push({ size, seed });
    if (i % 3 === 0) {
      runs.push(engine.deploy({ name: `bad-${i}`, functions: { [`z${i}`]: { module: 'identity' } }, edges: [{ from: `z${i}`, to: `z${i}` }] }));
      expected.push(undefined);
    }
  }
  const results = await settleAll(runs, 10_000, 'invocations and deploys');
  results.forEach((r, i) => {
    const exp = expected[i];
    if (exp === undefined) {
      assert.is(r.status, 'rejected', `deploy #${i} must fail`);
      assert.is(((r as PromiseRejectedResult).reason as CwasiError).code, 'E_WORKFLOW_INVALID');
    } else {
      const out = expectFulfilled(r, `invocation #${i}`) as Uint8Array;
      assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(exp.size, exp.seed)), length: exp.size }]);
    }
  });
  assert.is(engine.stats().invocations.inFlight, 0);
});

test.run();
