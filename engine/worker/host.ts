// The host side of the guest ABI (asm-functions/ABI.md): one instance of a
// guest module bound to a function memory, and the functions of the "cwasi"
// import namespace. Adapters here decode guest pointers, bounds-check them
// against the instance's memory and call plain host logic.

import * as loader from '@assemblyscript/loader';
import { CwasiError } from '../errors.js';
import { type Arena, Heap } from '../memory/heap.js';
import { HEADER_BYTES } from '../memory/layout.js';
import { ABI_VERSION, REQUIRED_EXPORTS, SHADOW_STACK_BYTES, SLICE_BYTES, SLICE_LEN, SLICE_PTR, STATUS, isLimitError, limitError, limitOf, statusOf } from '../abi.js';
import { DEFAULT_CALL_LIMITS, newContext, type CallBridge, type InvocationContext, type PendingCall, type Slice } from './context.js';
import { PIN, PIN_SLOT_BYTES, PIN_SLOTS, PIN_TABLE_BYTES, type Pin, OrphanRegions } from './pins.js';
import { StreamHost, finalOutput } from './stream-host.js';

/** Longest function name a guest may pass to call_start. */
const MAX_NAME_BYTES = 256;
/** Longest failure message kept from a guest. */
const MAX_MESSAGE_BYTES = 4096;
const MAX_LOG_LINES = 100;
/** The smallest region region_grow grants while it fits: the runtime's smallest own-region block (LARGE, 16 KiB). */
export const MIN_REGION_BYTES = 16 * 1024;


interface GuestExports {
  memory?: WebAssembly.Memory;
  __stack_pointer?: WebAssembly.Global;
  /** Lowest address the stack may reach; every frame checks it (export-stack-pointer.mjs). */
  __stack_limit?: WebAssembly.Global;
  _start?: () => void;
  cwasi_main(table: number, count: number): number;
  cwasi_abi_version(): number;
  cwasi_rt_init(pinTable: number, slots: number, stackTop: number): void;
  cwasi_rt_collect(): number;
  cwasi_rt_held?(): number;
  cwasi_rt_live?(): number;
  cwasi_rt_collections?(): number;
}

/** What an instance's own heap holds (GuestInstance.heapFigures). */
export interface InstanceHeapFigures {
  /** Regions granted by the host, and their bytes. */
  regions: number;
  regionBytes: number;
  /** Block bytes in use after the guest's last collection (its own count). */
  liveBytes: number;
  collections: number;
  /** Output and payload pins still held. */
  pins: number;
}

export { DEFAULT_CALL_LIMITS, newContext, releaseContext } from './context.js';
export type { CallBridge, CallLimits, InvocationContext, PendingCall, RemoteCall, Slice } from './context.js';

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
  /** The tag of every block the instance holds for its lifetime (an arena id with no chain). */
  private readonly instanceArena: Arena;
  /** The instance block: the output pin table, then the shadow stack. */
  private readonly instanceBlock: number;
  /** This instance's shadow stack [base, base + bytes), or bytes 0 when the module has none. */
  private readonly stackBase: number = 0;
  private readonly stackBytes: number = 0;
  /** Regions of the guest's allocator, [start, end) each, as the host granted them (never read back from guest memory). */
  private readonly regions: Array<{ start: number; end: number }> = [];
  /** The host's own copy of the pins it wrote into the pin table, by slot. */
  private readonly pins: Array<Pin | undefined> = new Array(PIN_SLOTS).fill(undefined);

  constructor(fn: string, module: WebAssembly.Module, memory: WebAssembly.Memory, heap: Heap, stackBytes = SHADOW_STACK_BYTES) {
    this.fn = fn;
    this.heap = heap;
    const streams = new StreamHost(heap, this);
    const imports = {
      env: { memory },
      cwasi: {
        region_grow: (minBytes: number, mayFail: number) => this.regionGrow(minBytes >>> 0, mayFail | 0),
        region_free: (ptr: number) => this.regionFree(ptr >>> 0),
        output: (ptr: number, len: number) => this.setOutput(ptr >>> 0, len >>> 0),
        fail: (code: number, ptr: number, len: number) => this.setFailure(code, ptr >>> 0, len >>> 0),
        call_start: (namePtr: number, nameLen: number, inPtr: number, inLen: number) =>
          this.callStart(namePtr >>> 0, nameLen >>> 0, inPtr >>> 0, inLen >>> 0),
        call_wait: (handle: number, outSlice: number) => this.callWait(handle, outSlice >>> 0),
        log: (_level: number, ptr: number, len: number) => this.log(ptr >>> 0, len >>> 0),
        stream_read: (ptr: number, cap: number) => streams.read(this.current(), ptr >>> 0, cap >>> 0),
        stream_write: (ptr: number, len: number) => streams.write(this.current(), ptr >>> 0, len >>> 0),
        stream_end: () => streams.end(this.current()),
        stream_next: (max: number, slice: number) => streams.next(this.current(), max >>> 0, slice >>> 0),
        stream_reserve: (max: number, slice: number) => streams.reserve(this.current(), max >>> 0, slice >>> 0),
        stream_commit: (n: number) => streams.commit(this.current(), n >>> 0),
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
    // Every block the instance holds for its lifetime (its stack and pin
    // table, its allocator's regions) carries this arena's id.
    this.instanceArena = heap.newArena();
    const sp = exports.__stack_pointer;
    const hasStack = sp instanceof WebAssembly.Global;
    if (hasStack && !(Number.isInteger(stackBytes) && stackBytes >= 4096 && stackBytes % 16 === 0)) {
      throw new CwasiError('E_CONFIG', `${fn}: stackBytes ${stackBytes} must be a multiple of 16 of at least 4096`);
    }
    // INSTANCE BLOCK: [pin table (PIN_TABLE_BYTES) | shadow stack (stackBytes)].
    // The stack grows down towards the table and traps at its limit, above it.
    const block = this.grantRegion(PIN_TABLE_BYTES + (hasStack ? stackBytes : 0));
    this.instanceBlock = block;
    this.heap.bytes().fill(0, block, block + PIN_TABLE_BYTES);
    let stackTop = 0;
    if (hasStack) {
      const limit = exports.__stack_limit;
      if (!(limit instanceof WebAssembly.Global)) {
        throw new CwasiError('E_WASM_INVALID', `${fn}: the module has a shadow stack but does not export __stack_limit (build it with the current asm-functions/rt/export-stack-pointer.mjs)`);
      }
      // A stack of its own: the module's default one sits at a fixed address
      // shared by every instance of the module, on every thread. Every frame
      // compares the lowered pointer with the limit before it stores, so an
      // overflow traps at the bottom of this block's stack part, inside it.
      const base = block + PIN_TABLE_BYTES;
      stackTop = base + stackBytes;
      try {
        limit.value = base;
        sp.value = stackTop;
      } catch (err) {
        throw new CwasiError('E_WASM_INVALID', `${fn}: __stack_pointer and __stack_limit must be mutable i32 globals: ${(err as Error).message}`);
      }
      this.stackBase = base;
      this.stackBytes = stackBytes;
    }
    exports.cwasi_rt_init(block, PIN_SLOTS, stackTop);
    if (typeof exports._start === 'function') {
      const ctx = this.bareContext(heap.newArena());
      this.enter(ctx);
      try {
        exports._start();
      } catch (err) {
        if (ctx.hostError) throw ctx.hostError;
        throw new CwasiError('E_FUNCTION_TRAP', `${fn}: module initialisation trapped: ${this.stackOverflowed(err) ? 'stack overflow' : (err as Error).message}`);
      } finally {
        this.leave();
        heap.release(ctx.arena);
      }
    }
  }

  /**
   * Give the instance's memory back (the instance must not be used
   * afterwards). A region that still holds a pinned output some consumer has
   * not finished with is kept until its pins die (OrphanRegions).
   */
  dispose(): void {
    try {
      const live = this.pins.filter((p): p is Pin => p !== undefined && this.heap.blockTagged(p.anchor, p.tag));
      const tag = this.instanceArena.id;
      for (const r of this.regions) {
        const held = live.filter((p) => p.ptr < r.end && p.ptr + p.len > r.start);
        if (held.length > 0) OrphanRegions.keep(this.heap, r.start, tag, held);
        else this.heap.freeRegion(r.start, tag);
      }
      this.regions.length = 0;
      this.heap.release(this.instanceArena);
    } catch {
      // A corrupt or discarded memory: it is discarded whole.
    }
  }

  /** What the instance's own heap holds (diagnostics and tests). */
  heapFigures(): InstanceHeapFigures {
    let regionBytes = 0;
    // The first region is the instance block (pin table and stack), not the allocator's.
    for (let i = 1; i < this.regions.length; i++) regionBytes += this.regions[i]!.end - this.regions[i]!.start;
    return {
      regions: this.regions.length - 1,
      regionBytes,
      liveBytes: (this.exports.cwasi_rt_live?.() ?? 0) >>> 0,
      collections: (this.exports.cwasi_rt_collections?.() ?? 0) >>> 0,
      pins: this.pins.filter((p) => p !== undefined && this.heap.blockTagged(p.anchor, p.tag)).length,
    };
  }

  /**
   * Run a full collection in the guest, which gives regions left empty back
   * to the memory; returns its live block bytes. Outside an invocation
   * (after a call that failed, or from tests). Throws what the guest's
   * runtime found (a corrupt heap traps).
   */
  collect(): number {
    const ctx = this.bareContext(this.heap.newArena());
    this.enter(ctx);
    try {
      return this.exports.cwasi_rt_collect() >>> 0;
    } catch (err) {
      throw ctx.hostError ?? trapError(this.fn, err);
    } finally {
      this.leave();
      this.heap.release(ctx.arena);
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
    const sp = this.exports.__stack_pointer;
    const spAtEntry = sp instanceof WebAssembly.Global ? sp.value as number : 0;
    try {
      status = this.exports.cwasi_main(table, inputs.length);
    } catch (err) {
      // A trap leaves the frames it unwound on the shadow stack: drop them, or
      // the collector would keep what they pointed to and every trap would
      // lower the stack further.
      const overflowed = this.stackOverflowed(err);
      if (sp instanceof WebAssembly.Global) sp.value = spAtEntry;
      if (ctx.hostError) throw ctx.hostError;
      if (overflowed) {
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
    return finalOutput(ctx, this.heap);
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

  // ── which invocation the host functions act for ─────────────────────────

  // The guest's heap belongs to the instance, not to an invocation: entering
  // and leaving only track which invocation the host functions act for.

  private enter(ctx: InvocationContext): void {
    this.stack.push(ctx);
  }

  private leave(): void {
    this.stack.pop();
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
      fn: this.fn, heap: this.heap, bridge: none, invocationId: 0, arena, extraArenas: [], results: [],
      deadline: Infinity, maxPayloadBytes: 0, forceRemote: [], callDepth: 0, callLimits: DEFAULT_CALL_LIMITS, traceparent: undefined, output: undefined, failure: undefined,
      hostError: undefined, lastCallError: undefined, groupTrapped: false, inputs: [], table: undefined, calls: new Map(), nextHandle: 1, logs: [],
    };
  }

  /** Make the guest trap with `err` (also for stream-host.ts, as is checkOwned below). */
  abortWith(ctx: InvocationContext, err: CwasiError): never {
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
  checkOwned(ctx: InvocationContext, ptr: number, len: number, what: string): void {
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
    for (const s of ctx.results) if (ptr >= s.ptr && end <= s.ptr + s.len) return;
    // The guest's own heap (its regions; the instance block with its stack and pin table is not one).
    for (let i = 1; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      if (ptr >= r.start && end <= r.end) return;
    }
    try {
      if (this.heap.arenaContains(ctx.arena, ptr, len)) return;
      for (const a of ctx.extraArenas) if (this.heap.arenaContains(a, ptr, len)) return;
    } catch (err) {
      if (err instanceof CwasiError) this.abortWith(ctx, err);
      throw err;
    }
    refuse('is not memory this invocation owns (a stack, the header or another invocation\'s arena)');
  }

  // ── the "cwasi" import namespace ─────────────────────────────────────────

  /** A block for the instance's lifetime, recorded in `regions`. */
  private grantRegion(bytes: number): number {
    const start = this.heap.allocRegion(this.instanceArena.id, bytes);
    this.regions.push({ start, end: start + bytes });
    return start;
  }

  /** region_grow(bytes, mayFail): a region of `bytes`, or 0 when it does not fit and `mayFail` is set. */
  private regionGrow(minBytes: number, mayFail: number): number {
    const ctx = this.current();
    if (Date.now() > ctx.deadline) {
      this.abortWith(ctx, new CwasiError('E_TIMEOUT', `${ctx.fn}: deadline passed`));
    }
    try {
      // The runtime asks for 16-byte multiples; anything else (or -1: "too large") is refused by size.
      if (minBytes % 16 !== 0 || minBytes === 0) {
        throw new CwasiError('E_MEMORY_LIMIT', `a region of ${minBytes} bytes cannot be granted`);
      }
      // At least MIN_REGION_BYTES while that fits: a guest asking for millions
      // of 16-byte regions, and freeing every other one, would otherwise build
      // a genuine free list of millions of blocks, which every input the main
      // thread places walks under the heap lock. The runtime never asks for
      // less except near the memory's maximum, where the exact size still goes.
      if (minBytes < MIN_REGION_BYTES) {
        try {
          return this.grantRegion(MIN_REGION_BYTES);
        } catch (err) {
          if (!(err instanceof CwasiError && err.code === 'E_MEMORY_LIMIT')) throw err;
        }
      }
      return this.grantRegion(minBytes);
    } catch (err) {
      if (mayFail !== 0 && err instanceof CwasiError && err.code === 'E_MEMORY_LIMIT') return 0;
      if (err instanceof CwasiError) this.abortWith(ctx, new CwasiError(err.code, `${ctx.fn}: cannot allocate ${minBytes} bytes: ${err.message}`, { ...err.details, requestedBytes: minBytes }));
      throw err;
    }
  }

  private regionFree(ptr: number): void {
    const ctx = this.current();
    const at = this.regions.findIndex((r, i) => i > 0 && r.start === ptr);
    if (at < 0) this.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: region_free(${ptr}) names no region of this instance`));
    try {
      this.heap.freeRegion(ptr, this.instanceArena.id);
    } catch (err) {
      if (err instanceof CwasiError) this.abortWith(ctx, err);
      throw err;
    }
    this.regions.splice(at, 1);
  }

  /** Is [ptr, ptr + len) inside the guest's own heap (so the collector must keep it)? */
  private inOwnHeap(ptr: number, len: number): boolean {
    for (let i = 1; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      if (ptr >= r.start && ptr + len <= r.end) return true;
    }
    return false;
  }

  /**
   * Keep [ptr, ptr + len) from the guest's collector until `arena` is
   * released (by whichever thread releases it). Returns false when the
   * table is full of live pins.
   */
  private pin(arena: Arena, ptr: number, len: number): boolean {
    if (arena.head === 0) this.heap.allocIn(arena, 16); // an anchor: every pinning arena holds a block
    const words = this.heap.words();
    for (let i = 0; i < PIN_SLOTS; i++) {
      const p = this.pins[i];
      if (p !== undefined && this.heap.blockTagged(p.anchor, p.tag)) continue;
      const pin: Pin = { ptr, len, anchor: arena.head, tag: arena.id };
      const at = (this.instanceBlock + i * PIN_SLOT_BYTES) >>> 2;
      words[at + (PIN.LEN >> 2)] = len;
      words[at + (PIN.ANCHOR >> 2)] = pin.anchor;
      words[at + (PIN.TAG >> 2)] = pin.tag;
      // The collector runs on this thread: plain stores, PTR last (it marks the slot used).
      words[at + (PIN.PTR >> 2)] = ptr;
      this.pins[i] = pin;
      return true;
    }
    return false;
  }

  /** A copy of [ptr, ptr + len) in `arena` (host-owned): used when no pin slot is left. */
  private copyOut(arena: Arena, ptr: number, len: number): number {
    const at = this.heap.allocIn(arena, len);
    const bytes = this.heap.bytes();
    bytes.copyWithin(at, ptr, ptr + len);
    return at;
  }

  private setOutput(ptr: number, len: number): void {
    const ctx = this.current();
    this.checkOwned(ctx, ptr, len, 'output');
    if (len > ctx.maxPayloadBytes && ctx.maxPayloadBytes > 0) {
      this.abortWith(ctx, new CwasiError('E_PAYLOAD_TOO_LARGE', `${ctx.fn}: output of ${len} bytes exceeds the limit of ${ctx.maxPayloadBytes} (a live stream between streaming functions has no such limit)`));
    }
    // An output in the guest's heap stays there (zero copy) until its invocation's arena is released.
    if (len > 0 && this.inOwnHeap(ptr, len) && !this.pin(ctx.arena, ptr, len)) ptr = this.copyOut(ctx.arena, ptr, len);
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
        callDepth: ctx.callDepth + 1, callLimits: ctx.callLimits, traceparent: ctx.traceparent,
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
      // The payload must outlive the guest's references to it: the callee reads it later, maybe in place.
      if (inLen > 0 && this.inOwnHeap(inPtr, inLen) && !this.pin(ctx.arena, inPtr, inLen)) inPtr = this.copyOut(ctx.arena, inPtr, inLen);
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
      ctx.results.push(pending.result);
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
  // The guest's runtime found its own heap or collector metadata damaged
  // (asm-functions/rt): the memory is corrupt, as when the host finds its heap so.
  const corrupt = /^(?:abort: )?(cwasi heap: corrupt [^\n]*?)(?: at [^ ]*)?$/.exec(message);
  if (corrupt !== null) {
    return new CwasiError('E_MEMORY_CORRUPT', `${fn}: ${corrupt[1]}`, { function: fn }, { cause: err });
  }
  return new CwasiError('E_FUNCTION_TRAP', `${fn} trapped: ${message}`, { function: fn }, { cause: err });
}
