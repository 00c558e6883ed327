// Function Coordinator: deploy-time decisions. It loads and checks modules,
// places every function (host, memory group), forms embedding groups (one
// shared WebAssembly.Memory per trust domain and host, members with disjoint
// static regions), prepares channels (ring pools per local edge) and answers
// IFC selection for any caller → callee pair with the pure rule in
// selection.ts. The Request Dispatcher asks it, per call, where things are.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CwasiError } from './errors.js';
import { Heap, type HeapStats } from './memory/heap.js';
import { assertGuestModule } from './memory/guest-check.js';
import { inspectModule, type ModuleInfo, type StaticRegion } from './memory/inspect.js';
import { probeInWorker } from './memory/probe-runner.js';
import { withPassiveData, writeStatics } from './memory/static-data.js';
import { MAX_PAGES, STATIC_BASE, STATIC_LIMIT, USER_STATIC_BASE, WASM_PAGE, alignUp } from './memory/layout.js';
import { type IfcMode, type Placement, type Selection, embedRefusal, selectMode } from './selection.js';
import type { Channel, GroupRef } from './channels/channel.js';
import type { FunctionDecl } from './workflow/schema.js';
import type { GroupInstall, GroupKey } from './worker/protocol.js';
import { SHADOW_STACK_BYTES } from './abi.js';

/** A function to deploy: a workflow's FunctionDecl plus its name. */
export interface FunctionConfig extends FunctionDecl {
  name: string;
}

export interface DeployedFunction {
  name: string;
  config: FunctionConfig;
  source: string;
  /** The module's bytes (sent to the node that hosts it in cluster mode). */
  bytes: Uint8Array;
  /** sha256 of the module bytes: two members with the same module may share their static data. */
  digest: string;
  module: WebAssembly.Module;
  info: ModuleInfo;
  staticRegion: StaticRegion;
  placement: Placement;
  group: MemoryGroup;
  replicas: number | undefined;
}

/** Stands in for the module of a function another node hosts: never instantiated here. */
const REMOTE_STUB = (() => {
  const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const module = new WebAssembly.Module(bytes);
  return { module, info: inspectModule(bytes, module) };
})();

/** Bounds of a function's streamWindowBytes (the workflow schema says the same). */
const MIN_STREAM_WINDOW_BYTES = 64 * 1024;
const MAX_STREAM_WINDOW_BYTES = 256 * 1024 * 1024;

/** Bounds of a function's stackBytes (the workflow schema says the same). */
const MIN_STACK_BYTES = 4096;
const MAX_STACK_BYTES = 64 << 20;

/** Pages of heap a fresh memory starts with beyond its static data. */
const INITIAL_HEAP_PAGES = 16;
/** Heaps start at least this high so that later members' static regions fit below. */
const MIN_HEAP_START = STATIC_LIMIT;

/** Where the bundled functions are (dist/functions next to dist/engine). */
export function bundledFunctionsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'functions');
}

interface ManifestEntry {
  name: string;
  file: string;
  /** The AssemblyScript source it was built from, relative to the package. */
  source: string;
  memoryBase: number;
  staticEnd: number;
  testOnly: boolean;
  sha256: string;
}

export function readManifest(dir: string): Record<string, ManifestEntry> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return {};
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { functions: Record<string, ManifestEntry> }).functions;
  } catch (err) {
    throw new CwasiError('E_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * The bundled functions of `dir`, and the engine's test fixtures from its
 * `test/` folder when there is one (a built checkout; the package does not
 * ship it). Fixtures resolve by name but are never listed as bundled.
 */
export function readManifests(dir: string): Record<string, ManifestEntry> {
  const fixtures = Object.entries(readManifest(join(dir, 'test'))).map(([n, e]) => [n, { ...e, file: `test/${e.file}`, testOnly: true }] as const);
  return { ...Object.fromEntries(fixtures), ...readManifest(dir) };
}

/**
 * One shared memory and the functions placed in it. An embedding group has
 * trusted members of one domain; every other function gets a group of its own.
 * Discarding bumps the generation: the old memory's header is marked, slices of
 * it are refused, and the next invocation gets a fresh memory.
 */
export class MemoryGroup {
  readonly id: string;
  readonly host: string;
  readonly domain: string;
  readonly embedded: boolean;
  readonly members = new Map<string, DeployedFunction>();
  generation = 0;
  memory!: WebAssembly.Memory;
  heap!: Heap;
  heapStart = MIN_HEAP_START;
  maxBytes: number;
  /** Bumped when a member joins (workers refresh their module list). */
  version = 0;
  discards = 0;
  lastDiscardReason: string | undefined;
  private installCache: GroupInstall | undefined;

  constructor(id: string, host: string, domain: string, embedded: boolean, maxBytes: number) {
    this.id = id;
    this.host = host;
    this.domain = domain;
    this.embedded = embedded;
    this.maxBytes = maxBytes;
  }

  /** Check that `fn` can live in this memory (static data disjoint from members and below the heap). */
  admit(fn: { name: string; staticRegion: StaticRegion; digest: string }): void {
    const r = fn.staticRegion;
    if (r.end === 0) return;
    if (r.start < STATIC_BASE) {
      throw new CwasiError('E_EMBED_OVERLAP', `${fn.name}: static data starts at ${r.start}, inside the memory header (below ${STATIC_BASE}); `
        + `build it with \`cwasi build\`, which places static data from ${USER_STATIC_BASE} (with plain asc: --memoryBase ${USER_STATIC_BASE} or higher)`, { functions: [fn.name] });
    }
    if (this.memory !== undefined && r.end > this.heapStart) {
      throw new CwasiError('E_EMBED_OVERLAP', `${fn.name}: static data [${r.start}, ${r.end}) reaches into the heap of memory group ${this.id} (starts at ${this.heapStart})`);
    }
    for (const m of this.members.values()) {
      const o = m.staticRegion;
      // The same module twice: identical read-only data at the same place, written identically.
      if (m.digest === fn.digest) continue;
      if (o.end !== 0 && r.start < o.end && o.start < r.end) {
        // Past the other's region, where `cwasi build --base` accepts it (and not past the limit).
        const base = alignUp(Math.max(o.end, USER_STATIC_BASE), 16);
        const hint = base < STATIC_LIMIT ? ` or rebuild ${fn.name} alone with \`cwasi build --base ${base}\`` : '';
        throw new CwasiError('E_EMBED_OVERLAP', `${fn.name} cannot share a memory with ${m.name}: static regions [${r.start}, ${r.end}) and [${o.start}, ${o.end}) overlap; `
          + `build both in one \`cwasi build\` (it packs their regions one after another)${hint}`, {
          functions: [fn.name, m.name], ...(hint !== '' ? { suggestedBase: base } : {}),
        });
      }
    }
  }

  add(fn: DeployedFunction): void {
    // A member joining a live memory brings its static data now; the same
    // module already here keeps the data its instances have been using.
    const sameModule = [...this.members.values()].some((m) => m.digest === fn.digest);
    if (this.memory !== undefined && !sameModule) writeStatics(this.memory, fn.info.segments);
    this.members.set(fn.name, fn);
    this.version++;
    this.installCache = undefined;
  }

  /** Create the memory (first time, or after a discard). */
  materialise(): void {
    let staticEnd = STATIC_BASE;
    let initialPages = 1;
    let declaredMax = MAX_PAGES;
    for (const m of this.members.values()) {
      staticEnd = Math.max(staticEnd, m.staticRegion.end);
      initialPages = Math.max(initialPages, m.info.memory?.initialPages ?? 1);
      declaredMax = Math.min(declaredMax, m.info.memory?.maximumPages ?? MAX_PAGES);
    }
    if (this.memory === undefined) this.heapStart = Math.max(MIN_HEAP_START, alignUp(staticEnd, WASM_PAGE));
    const maxPages = Math.min(declaredMax, Math.floor(this.maxBytes / WASM_PAGE));
    const initial = Math.max(initialPages, this.heapStart / WASM_PAGE + INITIAL_HEAP_PAGES);
    if (initial > maxPages) {
      throw new CwasiError('E_MEMORY_LIMIT', `memory group ${this.id} needs ${initial} pages to start but may grow to ${maxPages}`);
    }
    this.memory = new WebAssembly.Memory({ initial, maximum: maxPages, shared: true });
    this.heap = Heap.init(this.memory, this.heapStart, maxPages * WASM_PAGE, this.generation);
    // Static data is written here, once per memory, never by instantiation (memory/static-data.ts).
    const written = new Set<string>();
    for (const m of this.members.values()) {
      if (written.has(m.digest)) continue;
      written.add(m.digest);
      writeStatics(this.memory, m.info.segments);
    }
    this.installCache = undefined;
  }

  /** One fate: mark the old memory dead and start a fresh one. */
  discard(reason: string): void {
    if (this.memory !== undefined) this.heap.bumpGeneration();
    this.generation++;
    this.discards++;
    this.lastDiscardReason = reason;
    this.materialise();
  }

  ref(): GroupRef {
    return { id: this.id, generation: this.generation, host: this.host, memory: this.memory, heap: this.heap };
  }

  key(): GroupKey {
    return { groupId: this.id, generation: this.generation, version: this.version };
  }

  /** What a worker needs to run members (sent once per key, on request). */
  install(): GroupInstall {
    if (this.installCache === undefined || this.installCache.generation !== this.generation || this.installCache.version !== this.version) {
      const modules: Record<string, WebAssembly.Module> = {};
      const stackBytes: Record<string, number> = {};
      for (const m of this.members.values()) {
        modules[m.name] = m.module;
        stackBytes[m.name] = m.config.stackBytes ?? SHADOW_STACK_BYTES;
      }
      this.installCache = {
        groupId: this.id, generation: this.generation, version: this.version, memory: this.memory, heapLock: this.heap.lockBuffer,
        stackBytes, modules, embedded: this.embedded,
      };
    }
    return this.installCache;
  }

  stats(): HeapStats & { id: string; generation: number; members: string[]; embedded: boolean; discards: number } {
    return { id: this.id, generation: this.generation, members: [...this.members.keys()], embedded: this.embedded, discards: this.discards, ...this.heap.stats() };
  }
}

export interface CoordinatorOptions {
  hostName: string;
  functionsDir: string;
  memoryMaxBytes: number;
}

export class FunctionCoordinator {
  readonly hostName: string;
  private readonly functions = new Map<string, DeployedFunction>();
  private readonly groups = new Map<string, MemoryGroup>();
  private readonly manifest: Record<string, ManifestEntry>;

  constructor(private readonly options: CoordinatorOptions) {
    this.hostName = options.hostName;
    this.manifest = readManifests(options.functionsDir);
  }

  /** Names of the functions bundled with the engine (not its test fixtures). */
  bundled(): string[] {
    return Object.entries(this.manifest).filter(([, e]) => !e.testOnly).map(([n]) => n).sort();
  }

  get(name: string): DeployedFunction | undefined {
    return this.functions.get(name);
  }

  require(name: string): DeployedFunction {
    const fn = this.functions.get(name);
    if (fn === undefined) throw new CwasiError('E_UNKNOWN_FUNCTION', `no function named "${name}" is deployed`);
    return fn;
  }

  list(): DeployedFunction[] {
    return [...this.functions.values()];
  }

  groupsList(): MemoryGroup[] {
    return [...this.groups.values()];
  }

  group(id: string): MemoryGroup | undefined {
    return this.groups.get(id);
  }

  /** Load, check and place functions. All or nothing: on error nothing of this call is deployed. */
  async deploy(configs: FunctionConfig[], baseDir = process.cwd()): Promise<DeployedFunction[]> {
    const loaded = await Promise.all(configs.map((c) => this.load(c, baseDir)));
    const created: MemoryGroup[] = [];
    const placed: DeployedFunction[] = [];
    try {
      for (const fn of loaded) {
        const existing = this.functions.get(fn.name);
        if (existing !== undefined) {
          if (existing.digest !== fn.digest && sameConfig(existing.config, fn.config)) {
            // A module is identified by its bytes: instances of the old one may
            // be running or cached on any worker, so a new one never silently
            // takes (or loses to) the old one's place under the same name.
            throw new CwasiError('E_WORKFLOW_INVALID', `"${fn.name}" is already deployed with another module (sha256 ${existing.digest.slice(0, 12)}, now ${fn.source} has sha256 ${fn.digest.slice(0, 12)}); a deployed module is not replaced: deploy the new one under another name or on a new engine`, {
              function: fn.name, deployed: existing.digest, given: fn.digest,
            });
          }
          if (sameConfig(existing.config, fn.config)) {
            placed.push(existing);
            continue;
          }
          throw new CwasiError('E_WORKFLOW_INVALID', `a different function named "${fn.name}" is already deployed`);
        }
        const trusted = fn.config.trusted === true;
        const domain = fn.config.domain ?? 'default';
        const host = fn.config.host ?? this.hostName;
        const groupId = trusted ? `${host}/domain:${domain}` : `${host}/fn:${fn.name}`;
        let group = this.groups.get(groupId);
        if (group === undefined) {
          group = new MemoryGroup(groupId, host, domain, trusted, this.options.memoryMaxBytes);
          this.groups.set(groupId, group);
          created.push(group);
        }
        group.admit(fn);
        const memoryMax = fn.config.memoryMaxBytes;
        if (memoryMax !== undefined) group.maxBytes = Math.min(group.maxBytes, memoryMax);
        const deployed: DeployedFunction = {
          ...fn,
          placement: { name: fn.name, host, trusted, domain, group: groupId },
          group,
          replicas: fn.config.replicas,
        };
        group.add(deployed);
        this.functions.set(fn.name, deployed);
        placed.push(deployed);
      }
      for (const g of new Set(placed.map((p) => p.group))) {
        if (g.host === this.hostName && g.memory === undefined) g.materialise();
      }
    } catch (err) {
      // Roll back everything this call added.
      for (const fn of loaded) {
        const d = this.functions.get(fn.name);
        if (d !== undefined && d.module === fn.module) {
          this.functions.delete(fn.name);
          d.group.members.delete(fn.name);
        }
      }
      for (const g of created) this.groups.delete(g.id);
      throw err;
    }
    return placed;
  }

  /** Forget functions (a deploy elsewhere failed); their groups go when they have no member left. */
  undeploy(names: string[]): void {
    for (const n of names) {
      const d = this.functions.get(n);
      if (d === undefined) continue;
      this.functions.delete(n);
      d.group.members.delete(n);
      if (d.group.members.size === 0) this.groups.delete(d.group.id);
    }
  }

  /**
   * Record a function that another node of the cluster hosts (found in the
   * registry), so that selection and the dispatcher can reach it. Its module
   * never runs here.
   */
  registerRemote(rec: { name: string; host: string; group: string; trusted: boolean; domain: string }): DeployedFunction {
    const existing = this.functions.get(rec.name);
    if (existing !== undefined) return existing;
    if (rec.host === this.hostName) throw new CwasiError('E_UNKNOWN_FUNCTION', `${rec.name} is registered on this node but not deployed here`);
    let group = this.groups.get(rec.group);
    if (group === undefined) {
      group = new MemoryGroup(rec.group, rec.host, rec.domain, rec.trusted, this.options.memoryMaxBytes);
      this.groups.set(rec.group, group);
    }
    const d: DeployedFunction = {
      name: rec.name,
      config: { name: rec.name, module: `node:${rec.host}`, trusted: rec.trusted, domain: rec.domain, host: rec.host },
      source: `node ${rec.host}`,
      bytes: new Uint8Array(0),
      digest: `remote:${rec.host}:${rec.name}`,
      module: REMOTE_STUB.module,
      info: REMOTE_STUB.info,
      staticRegion: { start: Infinity, end: 0 },
      placement: { name: rec.name, host: rec.host, trusted: rec.trusted, domain: rec.domain, group: rec.group },
      group,
      replicas: undefined,
    };
    group.members.set(rec.name, d);
    this.functions.set(rec.name, d);
    return d;
  }

  /** Whether `name` is one of the bundled functions. */
  isBundled(name: string): boolean {
    return this.manifest[name] !== undefined;
  }

  /**
   * Selection for caller → callee with an optional edge override. A refused
   * override throws: E_EMBED_REFUSED for `embedded` (the trust rule),
   * E_MODE_REFUSED for any other mode the placement cannot serve.
   */
  select(caller: string, callee: string, override?: IfcMode): Selection {
    const sel = this.trySelect(caller, callee, override);
    if (sel.refused !== undefined) {
      throw new CwasiError(sel.refusedCode ?? 'E_MODE_REFUSED', `${caller} → ${callee}: ${sel.refused}`,
        { caller, callee, mode: override, reason: sel.refused });
    }
    return sel;
  }

  /** Like select, but a refused override comes back in `refused` (with the rule-based mode) instead of throwing. */
  trySelect(caller: string, callee: string, override?: IfcMode): Selection {
    return selectMode(this.require(caller).placement, this.require(callee).placement, override);
  }

  /** Why two functions cannot be embedded together (undefined when they are). */
  embedRefusal(a: string, b: string): string | undefined {
    return embedRefusal(this.require(a).placement, this.require(b).placement);
  }

  /** Prepare the channel of a planned edge at deploy time (the channel says what that takes). */
  prepareEdge(edge: { edge: { from: string; to: string }; channel: Channel }): void {
    edge.channel.prepare?.(edge.edge.from, edge.edge.to);
  }

  /** Discard a group's memory after a trap or corruption (one fate). */
  discard(groupId: string, generation: number, reason: string): boolean {
    const g = this.groups.get(groupId);
    if (g === undefined || g.generation !== generation) return false;
    g.discard(reason);
    return true;
  }

  private async load(config: FunctionConfig, baseDir: string): Promise<Omit<DeployedFunction, 'placement' | 'group' | 'replicas'>> {
    const sb = config.stackBytes;
    if (sb !== undefined && (!Number.isInteger(sb) || sb < MIN_STACK_BYTES || sb > MAX_STACK_BYTES || sb % 16 !== 0)) {
      throw new CwasiError('E_CONFIG', `${config.name}: stackBytes must be a multiple of 16 from ${MIN_STACK_BYTES} to ${MAX_STACK_BYTES}, got ${sb}`, { function: config.name });
    }
    const wb = config.streamWindowBytes;
    if (wb !== undefined && (!Number.isInteger(wb) || wb < MIN_STREAM_WINDOW_BYTES || wb > MAX_STREAM_WINDOW_BYTES)) {
      throw new CwasiError('E_CONFIG', `${config.name}: streamWindowBytes must be a whole number from ${MIN_STREAM_WINDOW_BYTES} to ${MAX_STREAM_WINDOW_BYTES}, got ${wb}`, { function: config.name });
    }
    let bytes: Uint8Array;
    let source: string;
    if (typeof config.module === 'string') {
      const entry = this.manifest[config.module];
      const path = entry !== undefined && !config.module.endsWith('.wasm')
        ? join(this.options.functionsDir, entry.file)
        : isAbsolute(config.module) ? config.module : resolve(baseDir, config.module);
      source = path;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (err) {
        const known = this.bundled().join(', ');
        throw new CwasiError('E_WASM_MISSING', `${config.name}: cannot read module "${config.module}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); bundled functions: ${known}`, { function: config.name });
      }
    } else if (config.module instanceof WebAssembly.Module) {
      // No bytes to read: the probe finds what inspectModule would, by
      // instantiating it, so in a worker stopped at a time bound (a start
      // section of a compiled module cannot be seen before it runs).
      const module = config.module;
      let info: ModuleInfo;
      try {
        info = await probeInWorker(module);
      } catch (err) {
        if (err instanceof CwasiError) throw new CwasiError(err.code, `${config.name}: ${err.message}`, { ...err.details, function: config.name });
        throw err;
      }
      assertGuestModule(config.name, '<WebAssembly.Module>', info, module);
      return { name: config.name, config, source: '<WebAssembly.Module>', bytes: new Uint8Array(0), digest: `module:${compiledModuleId(module)}`, module, info, staticRegion: info.staticRegion };
    } else {
      bytes = config.module;
      source = '<bytes>';
    }
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (err) {
      throw new CwasiError('E_WASM_INVALID', `${config.name}: ${source} is not valid WebAssembly: ${(err as Error).message}`, { function: config.name });
    }
    const info = inspectModule(bytes, module);
    assertGuestModule(config.name, source, info, module);
    // What workers instantiate: the same module with its static data left to the host.
    const image = withPassiveData(bytes, info);
    if (image !== bytes) module = await WebAssembly.compile(image as Uint8Array<ArrayBuffer>);
    const digest = createHash('sha256').update(bytes).digest('hex');
    return { name: config.name, config, source, bytes, digest, module, info, staticRegion: info.staticRegion };
  }
}

/** A compiled module has no bytes to hash: it is identified by the object (one id per Module). */
const compiledModuleIds = new WeakMap<WebAssembly.Module, number>();
let nextCompiledModuleId = 0;
function compiledModuleId(m: WebAssembly.Module): number {
  let id = compiledModuleIds.get(m);
  if (id === undefined) compiledModuleIds.set(m, (id = ++nextCompiledModuleId));
  return id;
}

/** Same placement settings; the module itself is compared by digest. */
function sameConfig(a: FunctionConfig, b: FunctionConfig): boolean {
  const norm = (c: FunctionConfig) => JSON.stringify({
    trusted: c.trusted === true, domain: c.domain ?? 'default', replicas: c.replicas, host: c.host, memoryMaxBytes: c.memoryMaxBytes, stackBytes: c.stackBytes, streamWindowBytes: c.streamWindowBytes,
  });
  return norm(a) === norm(b);
}
