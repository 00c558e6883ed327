// A cwasi function compiled by plain asc (its own incremental runtime, a
// private memory) and run by a thin JavaScript host that provides the cwasi
// ABI imports (asm-functions/ABI.md): the reference side of the differential
// tests (test/helpers/differential.ts) and of `cwasi bench alloc`.
// Nothing of the engine runs here, so whatever the engine's runtime does to
// module state, allocation or memory, this side does as AssemblyScript itself
// does: one instance serves every call in sequence and keeps its state.
//
// Guest calls (`Call.start`) run synchronously, at call_start, on a copy of
// the payload, in the callee's own PlainInstance from a PlainRegistry; the
// result is copied into the caller's memory, pinned until the caller's
// invocation ends. A deterministic function's output cannot tell the
// difference from the engine's asynchronous calls.
//
// The compiler is asc's own module; once `cwasi build` has run in the same
// process its float-to-string conversion takes its scratch from the heap
// (engine/build/asc.ts, threadSafeFloatFormat). That changes where digits are
// written, never which: the reference prints the same either way.

import asc from 'assemblyscript/asc';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NO_CONFIG, readSource } from 'cwasi/primitives';

/** The package root: sources and node_modules/cwasi/ paths resolve from it, as in `cwasi build`. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** AssemblyScript's runtime id of ArrayBuffer (`idof<ArrayBuffer>()`), fixed by the compiler. */
const ARRAY_BUFFER_ID = 1;
/** One input table entry and one call result slice: { u32 ptr, u32 len } (ABI.md). */
const SLICE_PTR = 0;
const SLICE_LEN = 4;
const SLICE_BYTES = 8;
/** An AssemblyScript object's header ends with its payload size in bytes, just below the object. */
const OBJECT_RT_SIZE = -4;

/** call_start / call_wait statuses, as the engine returns them (engine/abi.ts). */
const STATUS = { OK: 0, UNKNOWN_FUNCTION: -1, CALL_FAILED: -2, BAD_HANDLE: -3, LIMIT: -5 } as const;
/** Nested guest calls allowed, as the engine's default `guestCalls.maxDepth`. */
const MAX_CALL_DEPTH = 16;

// ── compiling ─────────────────────────────────────────────────────────────

let scratch: string | undefined;

/** A temp folder of this process, removed at exit. */
export function scratchDir(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'cwasi-differential-'));
    scratch = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/**
 * Write a guest source held as text (test/fixtures/libs/*.ts export theirs
 * as strings: tsc compiles every .ts under test/) to `<scratch>/<name>.ts`;
 * returns the path, for compilePlain and compileCwasi.
 */
export function writeGuestSource(name: string, text: string): string {
  const path = join(scratchDir(), `${name}.ts`);
  writeFileSync(path, text);
  return path;
}

/** The flags of a plain build: asc's own incremental runtime and a private, exported memory. */
export const PLAIN_ASC_ARGS: readonly string[] = ['--runtime', 'incremental', '--exportRuntime', '-O3', '--noAssert'];

const plainCache = new Map<string, Promise<Uint8Array>>();

/**
 * Compile `sourceFile` with plain asc (no imported or shared memory, no
 * memoryBase) plus `extraAscArgs` (e.g. `--transform json-as`). Package
 * imports resolve from the repository's node_modules, `cwasi/sdk` to sdk/.
 * NO_CONFIG (a file that does not exist) keeps asc from reading an asconfig.json. Cached
 * per source and flags for the life of the process.
 */
export function compilePlain(sourceFile: string, extraAscArgs: string[] = []): Promise<Uint8Array> {
  const key = JSON.stringify([resolve(sourceFile), readFileSync(sourceFile, 'utf8'), extraAscArgs]);
  let p = plainCache.get(key);
  if (p === undefined) {
    p = runAsc(sourceFile, extraAscArgs);
    plainCache.set(key, p);
  }
  return p;
}

async function runAsc(sourceFile: string, extraAscArgs: string[]): Promise<Uint8Array> {
  const args = [resolve(sourceFile), '--outFile', 'plain.wasm', '--config', NO_CONFIG, '--baseDir', REPO_ROOT, ...PLAIN_ASC_ARGS, ...extraAscArgs];
  let wasm: Uint8Array | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main(args, {
    stdout: { write: () => true } as never,
    stderr: { write: (chunk: unknown) => { stderr.push(String(chunk)); return true; } } as never,
    readFile: (name, baseDir) => readSource(name, baseDir),
    writeFile: (name, contents) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') wasm = contents;
    },
    listFiles: () => [],
  });
  if (error) throw new Error(`plain asc failed for ${sourceFile}:\n${stderr.join('')}${error.message}`);
  if (wasm === undefined) throw new Error(`plain asc produced no wasm for ${sourceFile}`);
  return wasm;
}

// ── errors ────────────────────────────────────────────────────────────────

/** How a plain invocation ended when it produced no output; the codes are the engine's for the same ending. */
export type PlainErrorCode = 'E_FUNCTION_FAILED' | 'E_FUNCTION_TRAP' | 'E_BAD_DESCRIPTOR' | 'E_NO_OUTPUT';

export class PlainGuestError extends Error {
  /**
   * @param guestMessage what the guest said (its fail message, its abort
   *   message, or the trap's), which the engine's error for the same ending carries too
   * @param guestCode the code the guest passed to `fail`
   * @param where where an abort happened (file, line and column), for people only
   */
  constructor(readonly code: PlainErrorCode, readonly guestMessage: string, readonly guestCode = 0, where = '') {
    super(`${code}: ${guestMessage}${guestCode !== 0 ? ` (code ${guestCode})` : ''}${where}`);
    this.name = 'PlainGuestError';
  }
}

// ── the host ──────────────────────────────────────────────────────────────

interface PlainExports {
  memory: WebAssembly.Memory;
  cwasi_main(table: number, count: number): number;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
}

interface PendingCall {
  status: number;
  ptr: number;
  len: number;
}

/** What one invocation (of possibly several nested ones) has declared so far. */
class Invocation {
  output: { ptr: number; len: number } | undefined;
  failure: { code: number; message: string } | undefined;
  readonly calls = new Map<number, PendingCall>();
  nextHandle = 1;
  /** Objects pinned for this invocation: its inputs, its table, its call results. */
  readonly pins: number[] = [];
  readonly logs: string[] = [];
}

const utf8 = new TextDecoder('utf-8');
const utf16 = new TextDecoder('utf-16le');

/** Functions by the name a guest calls them by. */
export class PlainRegistry {
  private readonly byName = new Map<string, PlainInstance>();

  register(name: string, instance: PlainInstance): this {
    this.byName.set(name, instance);
    return this;
  }

  get(name: string): PlainInstance | undefined {
    return this.byName.get(name);
  }
}

/**
 * One instantiated plain module with its private memory. `invoke` is
 * synchronous and may be called any number of times: module state carries
 * over from call to call, as in one cwasi instance. After a trap the
 * instance is thrown away and the next invoke gets a fresh one (as the engine
 * re-instantiates a trapped module).
 */
export class PlainInstance {
  private exports: PlainExports;
  private readonly stack: Invocation[] = [];

  private constructor(readonly name: string, private readonly module: WebAssembly.Module, private readonly registry: PlainRegistry) {
    this.exports = this.instantiate();
  }

  /** Instantiate `wasm` (a compilePlain result); `registry` serves the guest's calls by name. */
  static create(name: string, wasm: Uint8Array, registry = new PlainRegistry()): PlainInstance {
    return new PlainInstance(name, new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), registry);
  }

  private instantiate(): PlainExports {
    const imports = {
      env: {
        abort: (msg: number, file: number, line: number, column: number) => {
          throw new PlainGuestError('E_FUNCTION_TRAP', this.readString(msg) ?? 'abort', 0, ` in ${this.readString(file) ?? '?'}(${line}:${column})`);
        },
      },
      cwasi: {
        output: (ptr: number, len: number) => {
          this.checkRange(ptr >>> 0, len >>> 0, 'output');
          this.current().output = { ptr: ptr >>> 0, len: len >>> 0 };
        },
        fail: (code: number, ptr: number, len: number) => {
          this.checkRange(ptr >>> 0, len >>> 0, 'failure message');
          this.current().failure = { code, message: utf8.decode(this.bytes().slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0))) };
        },
        log: (_level: number, ptr: number, len: number) => {
          this.checkRange(ptr >>> 0, len >>> 0, 'log message');
          this.current().logs.push(utf8.decode(this.bytes().slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0))));
        },
        call_start: (namePtr: number, nameLen: number, inPtr: number, inLen: number) =>
          this.callStart(namePtr >>> 0, nameLen >>> 0, inPtr >>> 0, inLen >>> 0),
        call_wait: (handle: number, outSlice: number) => this.callWait(handle, outSlice >>> 0),
      },
    };
    const needed = WebAssembly.Module.imports(this.module).filter((i) => !(i.module in imports) || !(i.name in (imports as Record<string, Record<string, unknown>>)[i.module]!));
    if (needed.length > 0) {
      throw new Error(`${this.name}: the plain host has no import ${needed.map((i) => `${i.module}.${i.name}`).join(', ')} (the SDK grew an import: add it to test/helpers/plain-asc.ts)`);
    }
    const instance = new WebAssembly.Instance(this.module, imports as unknown as WebAssembly.Imports);
    return instance.exports as unknown as PlainExports;
  }

  /** Bytes the instance's private memory has grown to (its peak: a wasm memory never shrinks). */
  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** The memory's bytes now; call again after anything that runs guest code (the memory may have grown). */
  private bytes(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer);
  }

  private current(): Invocation {
    const inv = this.stack[this.stack.length - 1];
    if (inv === undefined) throw new PlainGuestError('E_BAD_DESCRIPTOR', `${this.name}: a host function was called outside an invocation`);
    return inv;
  }

  private checkRange(ptr: number, len: number, what: string): void {
    if (ptr + len > this.exports.memory.buffer.byteLength) {
      throw new PlainGuestError('E_BAD_DESCRIPTOR', `${this.name}: ${what} [${ptr}, ${ptr + len}) is outside the memory`);
    }
  }

  private readString(ptr: number): string | null {
    if (ptr === 0) return null;
    const bytes = this.bytes();
    const size = new DataView(bytes.buffer).getUint32(ptr + OBJECT_RT_SIZE, true);
    return utf16.decode(bytes.slice(ptr, ptr + size));
  }

  /** A pinned ArrayBuffer of the guest holding `data`; unpinned when `inv` ends. */
  private place(inv: Invocation, data: Uint8Array): number {
    const ptr = this.exports.__new(data.length, ARRAY_BUFFER_ID) >>> 0;
    this.exports.__pin(ptr);
    inv.pins.push(ptr);
    this.bytes().set(data, ptr);
    return ptr;
  }

  /**
   * Run one invocation with `inputs` (one per incoming edge) and return a
   * copy of its output. Throws PlainGuestError when the guest fails, traps or
   * declares no output.
   */
  invoke(inputs: Uint8Array[]): Uint8Array {
    if (this.stack.length >= MAX_CALL_DEPTH) throw new PlainGuestError('E_FUNCTION_TRAP', `${this.name}: call depth ${MAX_CALL_DEPTH} reached`);
    const inv = new Invocation();
    this.stack.push(inv);
    let trapped = false;
    try {
      // INPUT TABLE: count × { u32 ptr, u32 len }, itself a pinned ArrayBuffer.
      const slices = inputs.map((data) => ({ ptr: this.place(inv, data), len: data.length }));
      const table = this.place(inv, new Uint8Array(Math.max(1, slices.length) * SLICE_BYTES));
      const dv = new DataView(this.exports.memory.buffer);
      slices.forEach((s, i) => {
        dv.setUint32(table + i * SLICE_BYTES + SLICE_PTR, s.ptr, true);
        dv.setUint32(table + i * SLICE_BYTES + SLICE_LEN, s.len, true);
      });
      let rc: number;
      try {
        rc = this.exports.cwasi_main(table, slices.length);
      } catch (err) {
        trapped = true;
        if (err instanceof PlainGuestError) throw err;
        throw new PlainGuestError('E_FUNCTION_TRAP', (err as Error).message);
      }
      if (rc !== 0) {
        const f = inv.failure;
        throw new PlainGuestError('E_FUNCTION_FAILED', f?.message ?? `returned ${rc} without a failure message`, f?.code ?? rc);
      }
      if (inv.output === undefined) throw new PlainGuestError('E_NO_OUTPUT', `${this.name}: returned 0 without calling output`);
      const { ptr, len } = inv.output;
      return this.bytes().slice(ptr, ptr + len);
    } finally {
      this.stack.pop();
      if (trapped) {
        // A trap leaves the runtime wherever it stopped: start afresh, as the engine does.
        if (this.stack.length === 0) this.exports = this.instantiate();
      } else {
        for (const p of inv.pins) this.exports.__unpin(p);
      }
    }
  }

  private callStart(namePtr: number, nameLen: number, inPtr: number, inLen: number): number {
    const inv = this.current();
    this.checkRange(namePtr, nameLen, 'call target name');
    this.checkRange(inPtr, inLen, 'call payload');
    const bytes = this.bytes();
    const target = utf8.decode(bytes.slice(namePtr, namePtr + nameLen));
    const payload = bytes.slice(inPtr, inPtr + inLen);
    const handle = inv.nextHandle++;
    const callee = this.registry.get(target);
    if (callee === undefined) {
      // As the engine: the handle is good, its wait says the function is unknown.
      inv.calls.set(handle, { status: STATUS.UNKNOWN_FUNCTION, ptr: 0, len: 0 });
      return handle;
    }
    if (this.stack.length + callee.stack.length >= MAX_CALL_DEPTH) return STATUS.LIMIT;
    let result: Uint8Array;
    try {
      result = callee.invoke([payload]);
    } catch (err) {
      if (!(err instanceof PlainGuestError)) throw err;
      inv.calls.set(handle, { status: STATUS.CALL_FAILED, ptr: 0, len: 0 });
      return handle;
    }
    // The result belongs to the caller's invocation: a pinned buffer of its own memory.
    const ptr = this.place(inv, result);
    inv.calls.set(handle, { status: STATUS.OK, ptr, len: result.length });
    return handle;
  }

  private callWait(handle: number, outSlice: number): number {
    const inv = this.current();
    this.checkRange(outSlice, SLICE_BYTES, 'call result slice');
    const call = inv.calls.get(handle);
    if (call === undefined) return STATUS.BAD_HANDLE;
    inv.calls.delete(handle);
    if (call.status !== STATUS.OK) return call.status;
    const dv = new DataView(this.exports.memory.buffer);
    dv.setUint32(outSlice + SLICE_PTR, call.ptr, true);
    dv.setUint32(outSlice + SLICE_LEN, call.len, true);
    return STATUS.OK;
  }
}
