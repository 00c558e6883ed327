// The public API's types: what a TypeScript user writes compiles, and the
// types say what the values are. (Compile-time checks; the runtime part only
// proves the module exports what the types promise.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as cwasi from '../engine/index.js';
import * as primitives from '../engine/primitives.js';
import * as workloads from '../engine/workloads.js';
import type {
  CwasiError, EngineOptions, EngineStats, ErrorCode, FunctionConfig, IfcMode, InvocationReport, InvokeOptions,
  PlanReport, WorkerStats, WorkflowDocument,
} from '../engine/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Expect<T extends true> = T;

/** Each entry fails to compile when the public types drift. */
export type TypeChecks = [
  // Invocation resolves with bytes; the report variant with the full record.
  Expect<Equal<ReturnType<cwasi.Engine['invoke']>, Promise<Uint8Array>>>,
  Expect<Equal<ReturnType<cwasi.Engine['invokeWithReport']>, Promise<InvocationReport>>>,
  Expect<Equal<ReturnType<cwasi.Engine['plan']>, PlanReport>>,
  Expect<Equal<ReturnType<cwasi.Engine['stats']>, EngineStats>>,
  Expect<Equal<ReturnType<cwasi.Engine['workerStats']>, Promise<WorkerStats[]>>>,
  Expect<Equal<ReturnType<cwasi.Engine['clusterStats']>, cwasi.ClusterStats | undefined>>,
  Expect<Equal<ReturnType<cwasi.Engine['close']>, Promise<void>>>,
  // map() yields one result per input: output or a typed error.
  Expect<Equal<ReturnType<cwasi.Engine['map']>, AsyncGenerator<cwasi.MapResult, void, undefined>>>,
  Expect<Equal<NonNullable<cwasi.MapResult['error']>, CwasiError>>,
  // Modes are a closed set of names; error codes too.
  Expect<Equal<IfcMode, 'embedded' | 'local' | 'networked' | 'remote-kv' | 'copy'>>,
  Expect<Equal<CwasiError['code'], ErrorCode>>,
  // A module is named, or given as bytes or compiled.
  Expect<Equal<WorkflowDocument['functions'][string]['module'], string | Uint8Array | WebAssembly.Module>>,
  Expect<Equal<typeof cwasi.DEFAULT_MAX_PAYLOAD_BYTES, number>>,
  // The option and report types name their parts.
  Expect<Equal<NonNullable<EngineOptions['local']>['transport'], cwasi.LocalTransport | undefined>>,
  Expect<Equal<NonNullable<EngineOptions['guestCalls']>, Partial<cwasi.GuestCallLimits>>>,
  Expect<Equal<EngineStats['memory'][number]['bytesInUse'], cwasi.HeapStats['bytesInUse']>>,
  Expect<Equal<ReturnType<primitives.Heap['stats']>, cwasi.HeapStats>>,
];

// What users write must compile.
const options: EngineOptions = {
  threads: { min: 1, max: 2 }, maxQueue: 16, timeoutMs: 1000, local: { transport: 'descriptor', sameWorker: false },
  redis: { url: 'redis://127.0.0.1:6379' },
};
const fn: FunctionConfig = { name: 'f', module: 'identity', trusted: true, domain: 'd', replicas: 2 };
const wf: WorkflowDocument = {
  name: 'w', functions: { a: { module: 'producer', host: 'auto' }, b: { module: 'checksum' } },
  edges: [{ from: 'a', to: 'b', mode: 'local' }], input: { kind: 'producer-spec' }, output: 'b',
};
const invokeOptions: InvokeOptions = { signal: new AbortController().signal, timeoutMs: 10, modes: { 'a->b': 'copy', '*': 'local' }, guestCallMode: 'embedded' };

test('the runtime exports match the types', () => {
  assert.type(cwasi.Engine.create, 'function');
  assert.type(cwasi.CwasiError, 'function');
  assert.type(primitives.selectMode, 'function');
  assert.ok(cwasi.IFC_MODES.includes('embedded'));
  assert.ok(Object.keys(cwasi.ERROR_CODES).includes('E_TIMEOUT'));
  assert.type(workloads.checksum, 'function');
  assert.ok(options && fn && wf && invokeOptions);
});

test('the package entry holds the engine and its types; what works below it is cwasi/primitives', () => {
  for (const name of ['Ring', 'Heap', 'selectMode', 'embedRefusal', 'buildGraph', 'summarize', 'listFiles', 'workloads']) {
    assert.not.ok(name in cwasi, `cwasi exports ${name}`);
  }
  for (const name of ['Ring', 'Heap', 'selectMode', 'embedRefusal', 'buildGraph', 'summarize', 'listFiles']) {
    assert.ok(name in primitives, `cwasi/primitives lacks ${name}`);
  }
});

test('a CwasiError keeps its code across a record', () => {
  const e = new cwasi.CwasiError('E_TIMEOUT', 'late', { boundMs: 5 });
  const back = cwasi.CwasiError.fromRecord(JSON.parse(JSON.stringify(e.toRecord())));
  assert.is(back.code, 'E_TIMEOUT');
  assert.equal(back.details, { boundMs: 5 });
  assert.is(cwasi.CwasiError.fromRecord({ code: 'E_NOPE' as ErrorCode, message: 'x' }).code, 'E_INTERNAL');
});

test.run();
