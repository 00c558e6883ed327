// Differential tests: the same AssemblyScript function source compiled twice,
// by plain asc (test/helpers/plain-asc.ts: asc's own runtime, a private
// memory, one instance serving every call in sequence) and by the cwasi build
// (engine/build/asc.ts), fed the same seeded inputs, outputs compared byte for
// byte. The cwasi side runs every way a function's input can arrive:
//
//   route       how the function gets its input
//   direct      engine.invoke(F, input)
//   embedded    workflow identity → F, the edge forced to embedded (one shared memory)
//   local       ... forced to local (Local Buffer)
//   copy        ... forced to copy (structured clone)
//   remote-kv   ... forced to remote-kv (the real Redis at REDIS_URL)
//   networked   identity on another engine node (a `cwasi node` process, NATS at NATS_URL) → F here
//
// and two ways of calling: a sequence of calls on a 1-thread engine (one
// instance serves them all, in the order one plain instance serves them, so
// module state must carry over exactly as in plain asc) and concurrent calls
// on a 2-thread engine. A function whose output may report its call history
// gets `history: true` only for sequences; concurrent inputs ask for none.
//
// A failure names the route, the calls that differ, the first differing byte
// of each and the seed; CWASI_SEED=<seed> replays it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine, type IfcMode, type WorkflowDocument } from '../../engine/index.js';
import { ascArgs, compileWith } from '../../engine/build/asc.js';
import { USER_STATIC_BASE } from '../../engine/memory/layout.js';
import { startCluster, type Harness } from '../../bench/cluster-harness.js';
import { NATS_URL, REDIS_URL, SEED, prng } from './env.js';
import { PlainGuestError, PlainInstance, PlainRegistry, REPO_ROOT } from './plain-asc.js';

export { PlainGuestError, PlainInstance, PlainRegistry, compilePlain, writeGuestSource } from './plain-asc.js';
export { SEED, prng } from './env.js';

// ── compiling for cwasi ───────────────────────────────────────────────────

const cwasiCache = new Map<string, Promise<Uint8Array>>();

/**
 * Compile `sourceFile` as `cwasi build` does (the engine's flags, runtime and
 * transform) at `memoryBase` (default USER_STATIC_BASE; modules deployed
 * together need regions that do not overlap), then `extraAscArgs`.
 */
export function compileCwasi(sourceFile: string, extraAscArgs: string[] = [], memoryBase = USER_STATIC_BASE): Promise<Uint8Array> {
  const key = JSON.stringify([sourceFile, extraAscArgs, memoryBase]);
  let p = cwasiCache.get(key);
  if (p === undefined) {
    p = compileWith([...ascArgs(sourceFile, memoryBase), '--baseDir', REPO_ROOT, ...extraAscArgs], REPO_ROOT);
    cwasiCache.set(key, p);
  }
  return p;
}

// ── seeded inputs ─────────────────────────────────────────────────────────

/** A whole number in [lo, hi]. */
export function randInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

export function randBytes(rnd: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

export function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

/** Input framing of the library fixtures: one flag byte (bit 0: report call history), then the payload. */
export const HISTORY_FLAG = 1;

export function framed(history: boolean, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = history ? HISTORY_FLAG : 0;
  out.set(payload, 1);
  return out;
}

/** FNV-1a of a label, to give every scenario its own stream from one seed. */
function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function scenarioRandom(seed: number, label: string): () => number {
  return prng((seed ^ labelHash(label)) >>> 0);
}

// ── outcomes and comparison ───────────────────────────────────────────────

/** How one call ended: its output, or its error's code and message. */
export type Outcome =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; code: string; message: string; guestMessage?: string };

/** What a JavaScript reference says a guest failure looks like. */
export interface GuestFailure {
  fail: number;
  message: string;
}

export function plainOutcome(run: () => Uint8Array): Outcome {
  try {
    return { ok: true, bytes: run() };
  } catch (err) {
    if (err instanceof PlainGuestError) return { ok: false, code: err.code, message: err.message, guestMessage: err.guestMessage };
    throw err;
  }
}

export async function cwasiOutcome(run: Promise<Uint8Array>): Promise<Outcome> {
  try {
    return { ok: true, bytes: await run };
  } catch (err) {
    if (err instanceof CwasiError) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: 'E_NOT_CWASI_ERROR', message: String((err as Error)?.stack ?? err) };
  }
}

function hex(bytes: Uint8Array, from: number, to: number): string {
  return Buffer.from(bytes.subarray(Math.max(0, from), Math.min(bytes.length, to))).toString('hex').replace(/(..)/g, '$1 ').trim();
}

/** undefined when equal; otherwise where and how `actual` first differs from `expected`. */
export function firstDifference(actual: Uint8Array, expected: Uint8Array): string | undefined {
  const n = Math.min(actual.length, expected.length);
  // Buffer#equals first (outputs run to megabytes), then the byte loop only when they differ.
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.length);
  if (a.equals(b)) return undefined;
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  const at = i < n ? `first differing byte at offset ${i}` : `equal for the first ${n} bytes`;
  return `${at} (actual ${actual.length} bytes, expected ${expected.length})\n`
    + `      actual   @${Math.max(0, i - 8)}: ${hex(actual, i - 8, i + 24)}\n`
    + `      expected @${Math.max(0, i - 8)}: ${hex(expected, i - 8, i + 24)}`;
}

/** Fail unless `actual` and `expected` are the same bytes; `context` should name the seed. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, context: string): void {
  const d = firstDifference(actual, expected);
  if (d !== undefined) assert.unreachable(`${context}: ${d}`);
}

function describe(o: Outcome): string {
  return o.ok ? `${o.bytes.length} bytes` : `${o.code}: ${o.message.split('\n')[0]!.slice(0, 300)}`;
}

/**
 * undefined when the cwasi outcome is the plain one: the same bytes, or the
 * same failure code with the guest's own message in the engine's.
 */
export function compareOutcomes(cwasi: Outcome, plain: Outcome): string | undefined {
  if (cwasi.ok && plain.ok) return firstDifference(cwasi.bytes, plain.bytes);
  if (!cwasi.ok && !plain.ok) {
    if (cwasi.code !== plain.code) return `cwasi ${describe(cwasi)}; plain asc ${describe(plain)}`;
    if (plain.guestMessage !== undefined && !cwasi.message.includes(plain.guestMessage)) {
      return `both ${plain.code}, but the engine's message lacks the guest's "${plain.guestMessage}": ${cwasi.message.slice(0, 300)}`;
    }
    return undefined;
  }
  return `cwasi ${describe(cwasi)}; plain asc ${describe(plain)}`;
}

/** Compare a plain outcome with a JavaScript reference's answer. */
function compareWithReference(plain: Outcome, ref: Uint8Array | GuestFailure): string | undefined {
  if (ref instanceof Uint8Array) return plain.ok ? firstDifference(plain.bytes, ref) : `plain asc ${describe(plain)}; reference ${ref.length} bytes`;
  if (plain.ok) return `plain asc gave ${plain.bytes.length} bytes; reference fails with code ${ref.fail}: ${ref.message}`;
  if (plain.code !== 'E_FUNCTION_FAILED' || plain.guestMessage !== ref.message) return `plain asc ${describe(plain)}; reference fails with code ${ref.fail}: ${ref.message}`;
  return undefined;
}

/** Fail listing every differing call (the first few in full) with the seed to replay them. */
function assertNoDifferences(label: string, seed: number, inputs: Uint8Array[], diffs: Array<string | undefined>): void {
  const bad = diffs.map((d, i) => ({ d, i })).filter((x) => x.d !== undefined);
  if (bad.length === 0) return;
  const shown = bad.slice(0, 4).map(({ d, i }) => `  call ${i} (input ${inputs[i]!.length} bytes): ${d}`);
  assert.unreachable(`${label}: ${bad.length} of ${diffs.length} calls differ (CWASI_SEED=${seed} replays them)\n${shown.join('\n')}${bad.length > shown.length ? `\n  ... and ${bad.length - shown.length} more (calls ${bad.slice(4, 24).map((x) => x.i).join(', ')}${bad.length > 24 ? ', ...' : ''})` : ''}`);
}

// ── the function under test ───────────────────────────────────────────────

/** A function compiled both ways. `cwasi` is wasm bytes or a bundled function's name. */
export interface GuestFunction {
  name: string;
  plain: Uint8Array;
  cwasi: Uint8Array | string;
}

export interface FunctionSet {
  fn: GuestFunction;
  /** Functions `fn` calls by name, registered under their names on both sides. */
  callees?: GuestFunction[];
}

/** Plain instances of a function set: the function and a registry of its callees. */
function plainSide(set: FunctionSet): PlainInstance {
  const registry = new PlainRegistry();
  for (const c of set.callees ?? []) registry.register(c.name, PlainInstance.create(c.name, c.plain, registry));
  return PlainInstance.create(set.fn.name, set.fn.plain, registry);
}

// ── the cwasi side ────────────────────────────────────────────────────────

export type Route = 'direct' | IfcMode;
export const ROUTES: readonly Route[] = ['direct', 'embedded', 'local', 'copy', 'remote-kv', 'networked'];
/** The longest one call may take before it counts as failed (a hung call must not hang the file). */
const CALL_TIMEOUT_MS = 30_000;
const DOMAIN = 'differential';

/** Engines that serve a function set by one route or several. */
interface CwasiHost {
  call(route: Route, input: Uint8Array): Promise<Outcome>;
  close(): Promise<void>;
}

function workflowName(set: FunctionSet): string {
  return `${set.fn.name}-wf`;
}

/** Deploys `set` and the workflow identity → F; `srcHost` puts identity on another node. */
async function deploySet(engine: Engine, set: FunctionSet, srcHost?: string): Promise<void> {
  const callees = set.callees ?? [];
  if (callees.length > 0) {
    await engine.deploy(callees.map((c) => ({ name: c.name, module: c.cwasi, trusted: true, domain: DOMAIN })));
  }
  const src = `${set.fn.name}-src`;
  const doc: WorkflowDocument = {
    name: workflowName(set),
    functions: {
      [src]: srcHost === undefined ? { module: 'identity', trusted: true, domain: DOMAIN } : { module: 'identity', host: srcHost },
      [set.fn.name]: { module: set.fn.cwasi, trusted: true, domain: DOMAIN },
    },
    edges: [{ from: src, to: set.fn.name }],
    output: set.fn.name,
  };
  await engine.deploy(doc);
}

/** Invoke the workflow and check that its one edge ran as `mode`. */
async function viaEdge(engine: Engine, set: FunctionSet, input: Uint8Array, mode: IfcMode, force: boolean): Promise<Outcome> {
  let ran: string | undefined;
  const o = await cwasiOutcome(engine.invokeWithReport(workflowName(set), input, { timeoutMs: CALL_TIMEOUT_MS, ...(force ? { modes: { '*': mode } } : {}) })
    .then((r) => {
      ran = r.edges[0]?.mode;
      return r.output;
    }));
  if (o.ok && ran !== mode) return { ok: false, code: 'E_HARNESS', message: `the edge ran as ${ran}, not ${mode}` };
  return o;
}

class LocalHost implements CwasiHost {
  private constructor(private readonly engine: Engine, private readonly set: FunctionSet) {}

  static async start(set: FunctionSet, threads: number): Promise<LocalHost> {
    const engine = await Engine.create({ threads, redis: { url: REDIS_URL }, timeoutMs: CALL_TIMEOUT_MS });
    try {
      await deploySet(engine, set);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return new LocalHost(engine, set);
  }

  call(route: Route, input: Uint8Array): Promise<Outcome> {
    if (route === 'direct') return cwasiOutcome(this.engine.invoke(this.set.fn.name, input, { timeoutMs: CALL_TIMEOUT_MS }));
    if (route === 'networked') throw new Error('a local host has no networked edge');
    return viaEdge(this.engine, this.set, input, route, true);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

/**
 * Two engine nodes: identity on "src-node", a `cwasi node` process of its own
 * (bench/cluster-harness.ts) as in a deployment, F on the coordinator in this
 * process, the edge networked.
 */
class ClusterHost implements CwasiHost {
  private constructor(private readonly coordinator: Engine, private readonly harness: Harness, private readonly set: FunctionSet) {}

  static async start(set: FunctionSet, threads: number): Promise<ClusterHost> {
    const harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'src-node', host: '127.0.0.2' }], threads: 1 });
    let coordinator: Engine | undefined;
    try {
      coordinator = await Engine.create({
        threads, timeoutMs: CALL_TIMEOUT_MS,
        cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
      });
      await deploySet(coordinator, set, 'src-node');
      return new ClusterHost(coordinator, harness, set);
    } catch (err) {
      await coordinator?.close();
      await harness.close();
      throw err;
    }
  }

  call(route: Route, input: Uint8Array): Promise<Outcome> {
    if (route !== 'networked') throw new Error(`a cluster host serves the networked route, not ${route}`);
    return viaEdge(this.coordinator, this.set, input, 'networked', false);
  }

  async close(): Promise<void> {
    await this.coordinator.close();
    await this.harness.close();
  }
}

function startHost(set: FunctionSet, route: Route, threads: number): Promise<CwasiHost> {
  return route === 'networked' ? ClusterHost.start(set, threads) : LocalHost.start(set, threads);
}

// ── the suite ─────────────────────────────────────────────────────────────

export interface DifferentialOptions {
  /** Compiles (once, lazily) the function and its callees. */
  functions: () => Promise<FunctionSet>;
  /**
   * The i-th input of a scenario. With `history` false the output must not
   * depend on earlier calls (concurrent calls reach instances in no set order).
   */
  input(rnd: () => number, i: number, history: boolean): Uint8Array;
  /**
   * A JavaScript reference: a fresh one per call sequence, fed the calls in
   * order, like a fresh plain instance; plain asc's outputs must equal its answers.
   */
  reference?: () => (input: Uint8Array) => Uint8Array | GuestFailure;
  /**
   * The function keeps module state that its outputs report: every sequence
   * then gets an engine of its own (else one 1-thread engine serves them all).
   */
  stateful?: boolean;
  /** Calls per sequence (default 60). */
  sequenceCalls?: number;
  /** Concurrent calls (default 16). */
  concurrentCalls?: number;
  routes?: readonly Route[];
  seed?: number;
}

/**
 * Registers (and runs) a uvu suite `title`: plain asc against the reference,
 * then for every route a sequence on a 1-thread engine and concurrent calls on
 * a 2-thread engine, each against plain asc.
 */
export function differentialSuite(title: string, opts: DifferentialOptions): void {
  const s = suite(title);
  const seed = opts.seed ?? SEED;
  const n = opts.sequenceCalls ?? 60;
  const c = opts.concurrentCalls ?? 16;
  const routes = opts.routes ?? ROUTES;
  let set: FunctionSet | undefined;
  /** Hosts kept for the whole suite, by key (route kind and thread count). */
  const shared = new Map<string, Promise<CwasiHost>>();

  const functions = async (): Promise<FunctionSet> => (set ??= await opts.functions());
  const sequenceInputs = (route: Route): Uint8Array[] => {
    const rnd = scenarioRandom(seed, `${title}/${route}/sequence`);
    return Array.from({ length: n }, (_, i) => opts.input(rnd, i, true));
  };
  const concurrentInputs = (route: Route): Uint8Array[] => {
    const rnd = scenarioRandom(seed, `${title}/${route}/concurrent`);
    return Array.from({ length: c }, (_, i) => opts.input(rnd, i, false));
  };
  const sharedHost = (route: Route, threads: number): Promise<CwasiHost> => {
    const key = `${route === 'networked' ? 'cluster' : 'local'}/${threads}`;
    let h = shared.get(key);
    if (h === undefined) {
      h = functions().then((fs) => startHost(fs, route, threads));
      shared.set(key, h);
    }
    return h;
  };

  s.after(async () => {
    for (const h of shared.values()) await h.then((x) => x.close(), () => undefined);
  });

  if (opts.reference !== undefined) {
    const reference = opts.reference;
    s(`plain asc: ${n} calls in sequence and ${c} more on one instance equal the JavaScript reference`, async () => {
      const fs = await functions();
      const inputs = [...sequenceInputs('direct'), ...concurrentInputs('direct')];
      const plain = plainSide(fs);
      const ref = reference();
      const diffs = inputs.map((x) => compareWithReference(plainOutcome(() => plain.invoke([x])), ref(x)));
      assertNoDifferences(`${title}, plain asc vs reference`, seed, inputs, diffs);
    });
  }

  for (const route of routes) {
    s(`${route}: ${n} calls in sequence on one instance (1 thread) equal plain asc's`, async () => {
      const fs = await functions();
      const inputs = sequenceInputs(route);
      const plain = plainSide(fs);
      const expected = inputs.map((x) => plainOutcome(() => plain.invoke([x])));
      const own = opts.stateful === true;
      const host = own ? await startHost(fs, route, 1) : await sharedHost(route, 1);
      try {
        const actual: Outcome[] = [];
        for (const x of inputs) actual.push(await host.call(route, x));
        assertNoDifferences(`${title}, ${route}, sequence`, seed, inputs, actual.map((a, i) => compareOutcomes(a, expected[i]!)));
      } finally {
        if (own) await host.close();
      }
    });

    s(`${route}: ${c} concurrent calls (2 threads) equal plain asc's`, async () => {
      const fs = await functions();
      const inputs = concurrentInputs(route);
      const plain = plainSide(fs);
      const expected = inputs.map((x) => plainOutcome(() => plain.invoke([x])));
      const host = await sharedHost(route, 2);
      const actual = await Promise.all(inputs.map((x) => host.call(route, x)));
      assertNoDifferences(`${title}, ${route}, concurrent`, seed, inputs, actual.map((a, i) => compareOutcomes(a, expected[i]!)));
    });
  }

  s.run();
}
