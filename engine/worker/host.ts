// The host side of the guest ABI (asm-functions/ABI.md): one instance of a
// guest module bound to a function memory, and the functions of the "cwasi"
// import namespace. Adapters here decode guest pointers, bounds-check them
// against the instance's memory and call plain host logic.

import * as loader from '@assemblyscript/loader';
import { CwasiError } from '../errors.js';
import { type Arena, Heap } from '../memory/heap.js';
import { HEADER_BYTES } from '../memory/layout.js';
import { ABI_VERSION, REQUIRED_EXPORTS, SHADOW_STACK_BYTES, SLICE_BYTES, SLICE_LEN, SLICE_PTR, STATUS, isLimitError, limitError, limitOf, statusOf } from '../abi.js';

/** Longest function name a guest may pass to call_start. */
const MAX_NAME_BYTES = 256;
/** Longest failure message kept from a guest. */
const MAX_MESSAGE_BYTES = 4096;
const MAX_LOG_LINES = 100;


interface GuestExports {
  memory?: WebAssembly.Memory;
  __stack_pointer?: WebAssembly.Global;
  /** Lowest address the stack may reach; every frame checks it (export-stack-pointer.mjs). */
  __stack_limit?: WebAssembly.Global;
  _start?: () => void;
  cwasi_main(table: number, count: number): number;
  cwasi_abi_version(): number;
  cwasi_alloc(size: number): number;
  cwasi_rt_cur(): number;
  cwasi_rt_end(): number;
  cwasi_rt_set(cur: number, end: number): void;
}

/** A byte range inside one memory. */
export interface Slice {
  ptr: number;
  len: number;
}

/** A call started by the guest; resolved inline (embedded) or by the dispatcher. */
export interface PendingCall {
  target: string;
  /** Resolved result, or the remote call's slot until it completes. */
  status: number | undefined;
  result: Slice | undefined;
  remote: RemoteCall | undefined;
}

/** A remote call in flight: the bridge knows how to wait for it. */
export interface RemoteCall {
  slot: number;
}

/** What a guest-initiated call that leaves this instance needs from the worker. */
export interface CallBridge {
  /** Start a call through the dispatcher; returns its slot or throws a CwasiError. */
  start(ctx: InvocationContext, target: string, payload: Slice): RemoteCall;
  /** Wait for it; places the result in ctx's arena. Returns a status and the slice. */
  wait(ctx: InvocationContext, call: RemoteCall): { status: number; result?: Slice; error?: CwasiError };
  /** Resolve an embedded callee in this instance's group, or undefined. */
  embeddedPeer(ctx: InvocationContext, target: string): GuestInstance | undefined;
  /** A new arena was created for this invocation tree (journaled for clean-up). */
  onArena?(arena: Arena): void;
  /** The guest returned without waiting for this call: drop its reply when it comes. */
  abandon?(call: RemoteCall): void;
}

/** Guest-call limits checked here before a call reaches the dispatcher (ABI.md, status -5). */
export interface CallLimits {
  maxDepth: number;
  maxInFlightPerInvocation: number;
}

/** Used where no task says otherwise (module initialisation makes no calls). */
export const DEFAULT_CALL_LIMITS: CallLimits = { maxDepth: 16, maxInFlightPerInvocation: 256 };

/** State of one invocation of one instance. */
export interface InvocationContext {
  fn: string;
  invocationId: number;
  heap: Heap;
  arena: Arena;
  /** Arenas of inline callees whose results this invocation still references. */
  extraArenas: Arena[];
  deadline: number;
  maxPayloadBytes: number;
  forceRemote: readonly string[];
  /** Guest calls between the invocation's entry and this context. */
  callDepth: number;
  callLimits: CallLimits;
  output: Slice | undefined;
  failure: { code: number; message: string } | undefined;
  /** A host-side error that made the guest trap (limit, deadline, bad pointer). */
  hostError: CwasiError | undefined;
  lastCallError: CwasiError | undefined;
  /** An embedded callee trapped: the whole group must be discarded (one fate). */
  groupTrapped: boolean;
  /** The invocation's inputs and the host's input table (an output may lie in an input, never in the table). */
  inputs: readonly Slice[];
  table: Slice | undefined;
  calls: Map<number, PendingCall>;
  nextHandle: number;
  logs: string[];
  bridge: CallBridge;
}

export function newContext(
  fn: string, heap: Heap, bridge: CallBridge,
  opts: { invocationId: number; deadline: number; maxPayloadBytes: number; forceRemote: readonly string[]; callDepth?: number; callLimits?: CallLimits },
): InvocationContext {
  const arena = heap.newArena();
  bridge.onArena?.(arena);
  return {
    fn, heap, bridge,
    invocationId: opts.invocationId,
    arena,
    extraArenas: [],
    deadline: opts.deadline,
    maxPayloadBytes: opts.maxPayloadBytes,
    forceRemote: opts.forceRemote,
    callDepth: opts.callDepth ?? 0,
    callLimits: opts.callLimits ?? DEFAULT_CALL_LIMITS,
    output: undefined,
    failure: undefined,
    hostError: undefined,
    lastCallError: undefined,
    groupTrapped: false,
    inputs: [],
    table: undefined,
    calls: new Map(),
    nextHandle: 1,
    logs: [],
  };
}

/** Release everything an invocation allocated (its arena and its inline callees'). */
export function releaseContext(ctx: InvocationContext): void {
  for (const a of ctx.extraArenas) ctx.heap.release(a);
  ctx.extraArenas.length = 0;
  ctx.heap.release(ctx.arena);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode bytes of a shared memory (TextDecoder refuses shared views, so copy first). */
function decodeShared(view: Uint8Array): string {
  return utf8.decode(view.slice());
}

/** One instantiated guest module bound to a function memory, used by one thread. */
export class GuestInstance {
  readonly fn: string;
  readonly heap: Heap;
  private readonly exports: GuestExports;
  private readonly stack: InvocationContext[] = [];
  /** Arena holding what the module's start function allocated; lives as long as the instance. */
  private readonly startArena: Arena;
  /** This instance's shadow stack [base, base + bytes), or bytes 0 when the module has none. */
  private readonly stackBase: number = 0;
  private readonly stackBytes: number = 0;

  constructor(fn: string, module: WebAssembly.Module, memory: WebAssembly.Memory, heap: Heap, stackBytes = SHADOW_STACK_BYTES) {
    this.fn = fn;
    this.heap = heap;
    const imports = {
      env: { memory },
      cwasi: {
        arena_grow: (minBytes: number) => this.arenaGrow(minBytes >>> 0),
        output: (ptr: number, len: number) => this.setOutput(ptr >>> 0, len >>> 0),
        fail: (code: number, ptr: number, len: number) => this.setFailure(code, ptr >>> 0, len >>> 0),
        call_start: (namePtr: number, nameLen: number, inPtr: number, inLen: number) =>
          this.callStart(namePtr >>> 0, nameLen >>> 0, inPtr >>> 0, inLen >>> 0),
        call_wait: (handle: number, outSlice: number) => this.callWait(handle, outSlice >>> 0),
        log: (_level: number, ptr: number, len: number) => this.log(ptr >>> 0, len >>> 0),
      },
    };
    let exports: GuestExports;
    try {
      exports = loader.instantiateSync(module, imports as unknown as loader.Imports).exports as unknown as GuestExports;
    } catch (err) {
      throw new CwasiError('E_WASM_INVALID', `${fn}: instantiation failed: ${(err as Error).message}`);
    }
    for (const name of REQUIRED_EXPORTS) {
      if (typeof (exports as unknown as Record<string, unknown>)[name] !== 'function') {
        throw new CwasiError('E_WASM_INVALID', `${fn}: module does not export ${name} (not built with the cwasi SDK)`);
      }
    }
    const version = exports.cwasi_abi_version();
    if (version !== ABI_VERSION) {
      throw new CwasiError('E_WASM_INVALID', `${fn}: guest ABI version ${version}, host speaks ${ABI_VERSION}`);
    }
    this.exports = exports;
    // Module initialisation may allocate (module-level objects): give it an
    // arena of its own that lives as long as the instance.
    this.startArena = heap.newArena();
    const sp = exports.__stack_pointer;
    if (sp instanceof WebAssembly.Global) {
      const limit = exports.__stack_limit;
      if (!(limit instanceof WebAssembly.Global)) {
        throw new CwasiError('E_WASM_INVALID', `${fn}: the module has a shadow stack but does not export __stack_limit (build it with the current asm-functions/rt/export-stack-pointer.mjs)`);
      }
      if (!Number.isInteger(stackBytes) || stackBytes < 4096 || stackBytes % 16 !== 0) {
        throw new CwasiError('E_CONFIG', `${fn}: stackBytes ${stackBytes} must be a multiple of 16 of at least 4096`);
      }
      // A stack of its own: the module's default one sits at a fixed address
      // shared by every instance of the module, on every thread. Every frame
      // compares the lowered pointer with the limit before it stores, so an
      // overflow traps at the bottom of this block, inside it.
      const base = heap.allocInstance(this.startArena, stackBytes);
      try {
        limit.value = base;
        sp.value = base + stackBytes;
      } catch (err) {
        throw new CwasiError('E_WASM_INVALID', `${fn}: __stack_pointer and __stack_limit must be mutable i32 globals: ${(err as Error).message}`);
      }
      this.stackBase = base;
      this.stackBytes = stackBytes;
    }
    if (typeof exports._start === 'function') {
      const ctx = this.bareContext(this.startArena);
      this.enter(ctx);
      try {
        exports._start();
      } catch (err) {
        throw new CwasiError('E_FUNCTION_TRAP', `${fn}: module initialisation trapped: ${this.stackOverflowed(err) ? 'stack overflow' : (err as Error).message}`);
      } finally {
        this.leave();
      }
    }
  }

  /** Free what module initialisation allocated (the instance must not be used afterwards). */
  dispose(): void {
    try {
      this.heap.release(this.startArena);
    } catch {
      // The memory is being discarded anyway.
    }
  }

  /** Bytes of the instance's memory as they are now. */
  bytes(): Uint8Array {
    return this.heap.bytes();
  }

  /**
   * Run one invocation. `inputs` are slices of this memory. On return,
   * ctx.output holds the result slice; the caller owns ctx's arenas.
   * Throws CwasiError on trap, guest failure or host error.
   */
  invoke(ctx: InvocationContext, inputs: readonly Slice[]): Slice {
    const table = this.heap.allocIn(ctx.arena, Math.max(inputs.length, 1) * SLICE_BYTES);
    ctx.inputs = inputs;
    ctx.table = { ptr: table, len: Math.max(inputs.length, 1) * SLICE_BYTES };
    // The table is 16-byte aligned: write it as u32 words (little endian like wasm).
    const words = this.heap.words();
    for (let i = 0; i < inputs.length; i++) {
      const at = (table + i * SLICE_BYTES) >>> 2;
      words[at + (SLICE_PTR >> 2)] = inputs[i]!.ptr;
      words[at + (SLICE_LEN >> 2)] = inputs[i]!.len;
    }
    this.enter(ctx);
    let status: number;
    try {
      status = this.exports.cwasi_main(table, inputs.length);
    } catch (err) {
      if (ctx.hostError) throw ctx.hostError;
      if (this.stackOverflowed(err)) {
        throw new CwasiError('E_FUNCTION_TRAP', `${ctx.fn} trapped: stack overflow (its shadow stack of ${this.stackBytes} bytes is exhausted; raise stackBytes)`, {
          function: ctx.fn,
        });
      }
      throw trapError(ctx.fn, err);
    } finally {
      this.leave();
      // Calls the guest started and never waited for must not hold their slots for ever.
      for (const p of ctx.calls.values()) if (p.remote !== undefined) ctx.bridge.abandon?.(p.remote);
      ctx.calls.clear();
    }
    if (ctx.hostError) throw ctx.hostError;
    if (status !== 0) {
      const f = ctx.failure;
      // Name what a failed call hit (a limit, a trap further down): the guest's own message rarely can.
      const cause = ctx.lastCallError === undefined ? '' : ` (after a call failed: ${ctx.lastCallError.message})`;
      throw new CwasiError('E_FUNCTION_FAILED', `${ctx.fn} failed (code ${f?.code ?? status}): ${f?.message ?? 'no message'}${cause}`.slice(0, MAX_MESSAGE_BYTES), {
        function: ctx.fn, guestCode: f?.code ?? status,
        // A failure that follows a limit hit further down is that limit's: callers see -5 (abi.ts statusOf).
        ...(ctx.lastCallError !== undefined && limitOf(ctx.lastCallError) !== undefined ? { limit: limitOf(ctx.lastCallError) } : {}),
      });
    }
    const out = ctx.output;
    if (out === undefined) {
      throw new CwasiError('E_WASM_INVALID', `${ctx.fn} returned without reporting an output`);
    }
    return out;
  }

  /**
   * Did this trap come from a stack overflow? The shadow stack's check
   * leaves the lowered pointer below the limit when it traps; an exhausted
   * native stack is a RangeError. Either way nothing below the stack was written.
   */
  private stackOverflowed(err: unknown): boolean {
    if (err instanceof RangeError && /call stack/i.test(err.message)) return true;
    const sp = this.exports.__stack_pointer;
    if (this.stackBytes === 0 || !(sp instanceof WebAssembly.Global)) return false;
    return (sp.value as number) >>> 0 < this.stackBase;
  }

  // ── attach/detach an invocation to the runtime's bump allocator ─────────

  private saved: Array<[number, number]> = [];

  private enter(ctx: InvocationContext): void {
    this.saved.push([this.exports.cwasi_rt_cur(), this.exports.cwasi_rt_end()]);
    this.exports.cwasi_rt_set(0, 0);
    this.stack.push(ctx);
  }

  private leave(): void {
    this.stack.pop();
    const [cur, end] = this.saved.pop()!;
    this.exports.cwasi_rt_set(cur, end);
  }

  private current(): InvocationContext {
    const ctx = this.stack[this.stack.length - 1];
    if (ctx === undefined) throw new CwasiError('E_INTERNAL', `${this.fn}: host function called outside an invocation`);
    return ctx;
  }

  private bareContext(arena: Arena): InvocationContext {
    const none: CallBridge = {
      start: () => { throw new CwasiError('E_GUEST_CALL', 'calls are not allowed during module initialisation'); },
      wait: () => ({ status: STATUS.BAD_HANDLE }),
      embeddedPeer: () => undefined,
    };
    return {
      fn: this.fn, heap: this.heap, bridge: none, invocationId: 0, arena, extraArenas: [],
      deadline: Infinity, maxPayloadBytes: 0, forceRemote: [], callDepth: 0, callLimits: DEFAULT_CALL_LIMITS, output: undefined, failure: undefined,
      hostError: undefined, lastCallError: undefined, groupTrapped: false, inputs: [], table: undefined, calls: new Map(), nextHandle: 1, logs: [],
    };
  }

  /** Make the guest trap with `err` as the reported cause. */
  private abortWith(ctx: InvocationContext, err: CwasiError): never {
    ctx.hostError = err;
    throw err;
  }

  private checkRange(ctx: InvocationContext, ptr: number, len: number, what: string): void {
    if (!this.heap.inBounds(ptr, len)) {
      this.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: ${what} [${ptr}, +${len}) is outside its memory`));
    }
  }

  /**
   * Bytes handed on to other code (an output, a call payload) must be bytes
   * this invocation owns: the module's static data, one of its inputs, or a
   * block of its own arenas. Never the memory header, the input table, a
   * stack (its own or another instance's) or another invocation's arena.
   */
  private checkOwned(ctx: InvocationContext, ptr: number, len: number, what: string): void {
    this.checkRange(ctx, ptr, len, what);
    if (len === 0) return;
    const end = ptr + len;
    const refuse = (why: string): never =>
      this.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: ${what} [${ptr}, +${len}) ${why}`));
    if (ptr < HEADER_BYTES) refuse('overlaps the memory header');
    const t = ctx.table;
    if (t !== undefined && ptr < t.ptr + t.len && t.ptr < end) refuse('overlaps the input table');
    if (end <= this.heap.heapStart) return; // static data
    for (const s of ctx.inputs) if (ptr >= s.ptr && end <= s.ptr + s.len) return;
    try {
      if (this.heap.arenaContains(ctx.arena, ptr, len)) return;
      for (const a of ctx.extraArenas) if (this.heap.arenaContains(a, ptr, len)) return;
      // Objects module initialisation made live as long as the instance; its stack does not count.
      if (this.heap.arenaContains(this.startArena, ptr, len, true)) return;
    } catch (err) {
      if (err instanceof CwasiError) this.abortWith(ctx, err);
      throw err;
    }
    refuse('is not memory this invocation owns (a stack, the header or another invocation\'s arena)');
  }

  // ── the "cwasi" import namespace ─────────────────────────────────────────

  private arenaGrow(minBytes: number): number {
    const ctx = this.current();
    if (Date.now() > ctx.deadline) {
      this.abortWith(ctx, new CwasiError('E_TIMEOUT', `${ctx.fn}: deadline passed`));
    }
    try {
      return this.heap.allocChunk(ctx.arena, minBytes);
    } catch (err) {
      if (err instanceof CwasiError) this.abortWith(ctx, new CwasiError(err.code, `${ctx.fn}: cannot allocate ${minBytes} bytes: ${err.message}`, { ...err.details, requestedBytes: minBytes }));
      throw err;
    }
  }

  private setOutput(ptr: number, len: number): void {
    const ctx = this.current();
    this.checkOwned(ctx, ptr, len, 'output');
    if (len > ctx.maxPayloadBytes && ctx.maxPayloadBytes > 0) {
      this.abortWith(ctx, new CwasiError('E_PAYLOAD_TOO_LARGE', `${ctx.fn}: output of ${len} bytes exceeds the limit of ${ctx.maxPayloadBytes}`));
    }
    ctx.output = { ptr, len };
  }

  private setFailure(code: number, ptr: number, len: number): void {
    const ctx = this.current();
    this.checkRange(ctx, ptr, len, 'failure message');
    const view = this.heap.bytes().subarray(ptr, ptr + Math.min(len, MAX_MESSAGE_BYTES));
    ctx.failure = { code, message: decodeShared(view) };
  }

  private log(ptr: number, len: number): void {
    const ctx = this.current();
    this.checkRange(ctx, ptr, len, 'log message');
    if (ctx.logs.length < MAX_LOG_LINES) {
      ctx.logs.push(decodeShared(this.heap.bytes().subarray(ptr, ptr + Math.min(len, MAX_MESSAGE_BYTES))));
    }
  }

  private callStart(namePtr: number, nameLen: number, inPtr: number, inLen: number): number {
    const ctx = this.current();
    if (nameLen > MAX_NAME_BYTES) return STATUS.UNKNOWN_FUNCTION;
    this.checkRange(ctx, namePtr, nameLen, 'call target name');
    this.checkOwned(ctx, inPtr, inLen, 'call payload');
    const target = decodeShared(this.heap.bytes().subarray(namePtr, namePtr + nameLen));
    if (ctx.maxPayloadBytes > 0 && inLen > ctx.maxPayloadBytes) {
      ctx.lastCallError = new CwasiError('E_PAYLOAD_TOO_LARGE', `payload of ${inLen} bytes to ${target} exceeds the limit`);
      return STATUS.LIMIT;
    }
    if (Date.now() > ctx.deadline) return STATUS.ABORTED;
    const limits = ctx.callLimits;
    if (ctx.callDepth + 1 > limits.maxDepth) {
      ctx.lastCallError = limitError('depth', `guest call depth limit of ${limits.maxDepth} reached (${ctx.fn} → ${target})`);
      return STATUS.LIMIT;
    }
    // Refused here, in the caller's worker: a burst beyond the limit never reaches the main thread.
    if (ctx.calls.size >= limits.maxInFlightPerInvocation) {
      ctx.lastCallError = limitError('inFlightPerInvocation', `limit of ${limits.maxInFlightPerInvocation} guest calls in flight per invocation reached (${ctx.fn} → ${target})`);
      return STATUS.LIMIT;
    }
    const handle = ctx.nextHandle++;
    const pending: PendingCall = { target, status: undefined, result: undefined, remote: undefined };
    const forced = ctx.forceRemote.includes(target) || ctx.forceRemote.includes('*');
    const peer = forced ? undefined : ctx.bridge.embeddedPeer(ctx, target);
    if (peer !== undefined) {
      // Embedded: the callee shares this memory; it reads the payload in
      // place and its result stays where it was written (zero copy). Its
      // arena lives until the caller's invocation is released.
      const child = newContext(target, peer.heap, ctx.bridge, {
        invocationId: ctx.invocationId, deadline: ctx.deadline, maxPayloadBytes: ctx.maxPayloadBytes, forceRemote: ctx.forceRemote,
        callDepth: ctx.callDepth + 1, callLimits: ctx.callLimits,
      });
      ctx.extraArenas.push(child.arena);
      try {
        pending.result = peer.invoke(child, [{ ptr: inPtr, len: inLen }]);
        pending.status = STATUS.OK;
      } catch (err) {
        const e = err instanceof CwasiError ? err : trapError(target, err);
        if (e.code === 'E_TIMEOUT' || e.code === 'E_MEMORY_CORRUPT') this.abortWith(ctx, e);
        ctx.lastCallError = e;
        if (e.code === 'E_FUNCTION_TRAP' || child.groupTrapped) ctx.groupTrapped = true;
        pending.status = statusOf(e);
        // A limit deeper in an inline chain surfaces as the callee's failure; keep its message.
        if (child.lastCallError !== undefined && isLimitError(child.lastCallError)) ctx.lastCallError = child.lastCallError;
      } finally {
        ctx.extraArenas.push(...child.extraArenas);
      }
    } else {
      try {
        pending.remote = ctx.bridge.start(ctx, target, { ptr: inPtr, len: inLen });
      } catch (err) {
        const e = err instanceof CwasiError ? err : new CwasiError('E_GUEST_CALL', String(err));
        ctx.lastCallError = e;
        return statusOf(e);
      }
    }
    ctx.calls.set(handle, pending);
    return handle;
  }

  private callWait(handle: number, outSlice: number): number {
    const ctx = this.current();
    this.checkRange(ctx, outSlice, SLICE_BYTES, 'call result slice');
    const pending = ctx.calls.get(handle);
    if (pending === undefined) return STATUS.BAD_HANDLE;
    ctx.calls.delete(handle);
    if (pending.remote !== undefined) {
      const r = ctx.bridge.wait(ctx, pending.remote);
      pending.status = r.status;
      pending.result = r.result;
      if (r.error) ctx.lastCallError = r.error;
      if (r.error && (r.error.code === 'E_TIMEOUT' || r.error.code === 'E_ABORTED')) this.abortWith(ctx, r.error);
    }
    if (pending.status === STATUS.OK && pending.result !== undefined) {
      const dv = new DataView(this.heap.bytes().buffer);
      dv.setUint32(outSlice + SLICE_PTR, pending.result.ptr, true);
      dv.setUint32(outSlice + SLICE_LEN, pending.result.len, true);
      return STATUS.OK;
    }
    return pending.status ?? STATUS.CALL_FAILED;
  }
}

/** A guest trap (RuntimeError, loader abort, stack overflow) as E_FUNCTION_TRAP. */
export function trapError(fn: string, err: unknown): CwasiError {
  if (err instanceof CwasiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CwasiError('E_FUNCTION_TRAP', `${fn} trapped: ${message}`, { function: fn });
}
