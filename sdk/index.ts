// cwasi guest SDK: write a function over bytes, call other functions by name.
//
//   import { Bytes, Inputs, serve } from "cwasi/sdk";
//   export * from "cwasi/sdk/abi";
//   function handle(inputs: Inputs): Bytes { return inputs.first(); }
//   export function cwasi_main(table: usize, count: u32): i32 { return serve(table, count, handle); }
//
// Memory rules (ABI.md): inputs and call results are read-only, may live in
// another function's part of a shared memory and are valid for the current
// invocation only (copy what must outlive it); objects reachable from module
// globals survive between invocations of an instance, garbage is collected;
// an output stays pinned until every consumer has read it.

import {
  host_call_start, host_call_wait, host_fail, host_log, host_output, host_stream_commit, host_stream_end, host_stream_next, host_stream_read,
  host_stream_reserve, host_stream_write,
} from "./host";

/** Byte offset of `ptr` and `len` inside one entry of the input table. */
// @ts-ignore: decorator
@inline const SLICE_PTR: usize = 0;
// @ts-ignore: decorator
@inline const SLICE_LEN: usize = 4;
/** Bytes per input table entry and per result slice. */
// @ts-ignore: decorator
@inline const SLICE_BYTES: usize = 8;

/**
 * Where the host writes the slice of stream_next and stream_reserve: in
 * this instance's own heap, made once. (Not static data: every instance of
 * a module in one memory shares that, and two of them may stream at once.)
 */
const streamSliceBuffer = new ArrayBuffer(8);
const streamSlice: usize = changetype<usize>(streamSliceBuffer);

/** Status returned by the host for call_start / call_wait (ABI.md, "status codes"). */
export namespace Status {
  export const OK: i32 = 0;
  export const UNKNOWN_FUNCTION: i32 = -1;
  export const CALL_FAILED: i32 = -2;
  export const BAD_HANDLE: i32 = -3;
  export const ABORTED: i32 = -4;
  export const LIMIT: i32 = -5;
}

/**
 * A view of `length` bytes at `ptr` in linear memory. No copy is made.
 *
 * Bytes made by `alloc`, `zeroed`, `fromString`, `fromBuffer` or `copy` keep
 * the managed buffer they view alive (`owner`): they live as long as the
 * Bytes object is reachable, like any other object. Views of inputs and call
 * results have no owner; those bytes are valid during the current invocation.
 */
export class Bytes {
  constructor(public readonly ptr: usize, public readonly length: i32, public readonly owner: ArrayBuffer | null = null) {}

  /** Uninitialised bytes (previous contents are unspecified) in a managed buffer. */
  static alloc(length: i32): Bytes {
    if (length <= 0) return new Bytes(0, 0);
    let ptr: usize;
    // The cwasi runtime skips zeroing bytes the caller is about to write;
    // under another runtime (plain asc) this is __new.
    // @ts-ignore: compile-time check
    if (isDefined(__cwasi_new_bytes)) ptr = __cwasi_new_bytes(<usize>length, idof<ArrayBuffer>());
    else ptr = __new(<usize>length, idof<ArrayBuffer>());
    let buf = changetype<ArrayBuffer>(ptr);
    return new Bytes(ptr, length, buf);
  }

  /** Zero-filled bytes in a managed buffer. */
  static zeroed(length: i32): Bytes {
    if (length <= 0) return new Bytes(0, 0);
    // __new hands out zeroed memory (the standard library relies on it).
    let buf = changetype<ArrayBuffer>(__new(<usize>length, idof<ArrayBuffer>()));
    return new Bytes(changetype<usize>(buf), length, buf);
  }

  /** UTF-8 encoding of `s`. */
  static fromString(s: string): Bytes {
    return Bytes.fromBuffer(String.UTF8.encode(s));
  }

  /** A view of a whole ArrayBuffer (no copy; keeps the buffer alive). */
  static fromBuffer(buf: ArrayBuffer): Bytes {
    return new Bytes(changetype<usize>(buf), buf.byteLength, buf);
  }

  /** Copy of these bytes in a managed buffer (use it to keep an input beyond the invocation). */
  copy(): Bytes {
    let b = Bytes.alloc(this.length);
    if (this.length > 0) memory.copy(b.ptr, this.ptr, <usize>this.length);
    return b;
  }

  /** View of [start, end) (clamped), sharing this view's owner. */
  slice(start: i32, end: i32 = i32.MAX_VALUE): Bytes {
    let s = min(max(start, 0), this.length);
    let e = min(max(end, s), this.length);
    return new Bytes(this.ptr + <usize>s, e - s, this.owner);
  }

  /** A copy of these bytes as a new ArrayBuffer. */
  toBuffer(): ArrayBuffer {
    let buf = changetype<ArrayBuffer>(__new(<usize>this.length, idof<ArrayBuffer>()));
    if (this.length > 0) memory.copy(changetype<usize>(buf), this.ptr, <usize>this.length);
    return buf;
  }

  @inline get(i: i32): u8 {
    return load<u8>(this.ptr + <usize>i);
  }

  @inline set(i: i32, v: u8): void {
    store<u8>(this.ptr + <usize>i, v);
  }

  @inline getU32(offset: i32): u32 {
    return load<u32>(this.ptr + <usize>offset);
  }

  @inline setU32(offset: i32, v: u32): void {
    store<u32>(this.ptr + <usize>offset, v);
  }

  /** UTF-8 decoding of these bytes. */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
  }
}

/** The invocation's inputs: one per incoming edge (fan-in gives several). */
export class Inputs {
  constructor(public readonly table: usize, public readonly count: i32) {}

  get(i: i32): Bytes {
    if (i < 0 || i >= this.count) return new Bytes(0, 0);
    let entry = this.table + <usize>i * SLICE_BYTES;
    return new Bytes(<usize>load<u32>(entry + SLICE_PTR), <i32>load<u32>(entry + SLICE_LEN));
  }

  /** The first input, or empty bytes when there is none. */
  first(): Bytes {
    return this.get(0);
  }

  /** Sum of all input lengths. */
  totalLength(): i64 {
    let n: i64 = 0;
    for (let i = 0; i < this.count; i++) n += <i64>this.get(i).length;
    return n;
  }
}

export type Handler = (inputs: Inputs) => Bytes;

let failed: bool = false;
let failCode: i32 = 0;

/**
 * Record a failure of this invocation; return the value from the handler.
 * `code` must be positive; the host reports it as E_FUNCTION_FAILED with the message.
 */
export function fail(code: i32, message: string): Bytes {
  failed = true;
  failCode = code > 0 ? code : 1;
  let msg = String.UTF8.encode(message);
  host_fail(failCode, changetype<usize>(msg), <usize>msg.byteLength);
  return new Bytes(0, 0);
}

/** Run `handler` for one invocation; the body of every `cwasi_main`. */
export function serve(table: usize, count: u32, handler: Handler): i32 {
  failed = false;
  failCode = 0;
  let out = handler(new Inputs(table, <i32>count));
  if (failed) return failCode;
  host_output(out.ptr, <usize>out.length);
  return Status.OK;
}

/**
 * The input of a streaming function as a sequence of chunks: its inputs one
 * after the other (fan-in gives several), read into the function's own bytes.
 */
export class Reader {
  /** The status of the read that failed (negative), or 0. */
  status: i32 = 0;
  private ended: bool = false;

  /**
   * Read up to `into.length` bytes into `into` (bytes of this function's own,
   * such as `Bytes.alloc`, never an input). Returns how many (> 0), 0 at the
   * end of the stream, or a negative status when the stream failed.
   */
  read(into: Bytes): i32 {
    if (this.ended || this.status < 0) return this.status;
    if (into.length <= 0) return 0;
    let n = host_stream_read(into.ptr, <usize>into.length);
    if (n < 0) this.status = n;
    else if (n == 0) this.ended = true;
    return n;
  }

  /**
   * The next piece of the input stream, up to `max` bytes (0: as much as
   * is at hand), where it lies: in an input, or in the producer's chunk when
   * the two share a memory, else copied once into a buffer of the host's.
   * Read-only, and valid until the next `next` or `read`. Empty at the end
   * of the stream and when it failed (`status` < 0 then).
   */
  next(max: i32 = 0): Bytes {
    if (this.ended || this.status < 0) return new Bytes(0, 0);
    let s = host_stream_next(<usize>max, streamSlice);
    if (s < 0) {
      this.status = s;
      return new Bytes(0, 0);
    }
    let len = <i32>load<u32>(streamSlice + SLICE_LEN);
    if (len == 0) this.ended = true;
    return new Bytes(<usize>load<u32>(streamSlice + SLICE_PTR), len);
  }

  /** Read until `into` is full or the stream ends: how many bytes, or a negative status. */
  readFull(into: Bytes): i32 {
    let got = 0;
    while (got < into.length) {
      let n = this.read(into.slice(got));
      if (n < 0) return n;
      if (n == 0) break;
      got += n;
    }
    return got;
  }
}

/** The output of a streaming function: chunks appended in order. */
export class Writer {
  /** The status of the write that failed (negative), or 0. */
  status: i32 = 0;

  /**
   * Append `bytes` (copied: the buffer may be reused at once). Returns 0, or
   * a negative status when the stream can take no more.
   */
  write(bytes: Bytes): i32 {
    if (this.status < 0) return this.status;
    if (bytes.length <= 0) return 0;
    let s = host_stream_write(bytes.ptr, <usize>bytes.length);
    if (s < 0) this.status = s;
    return s;
  }

  /**
   * A place for up to `max` output bytes (0: one chunk's worth), to fill
   * and then hand on with `commit`: where the reader will find them (a
   * chunk of the stream's window), so nothing is copied on the way out. It
   * may be shorter than `max`. Empty when the stream can take no more
   * (`status` < 0).
   */
  reserve(max: i32 = 0): Bytes {
    if (this.status < 0) return new Bytes(0, 0);
    let s = host_stream_reserve(<usize>max, streamSlice);
    if (s < 0) {
      this.status = s;
      return new Bytes(0, 0);
    }
    return new Bytes(<usize>load<u32>(streamSlice + SLICE_PTR), <i32>load<u32>(streamSlice + SLICE_LEN));
  }

  /** Append the first `n` bytes of the last `reserve`: 0, or a negative status. */
  commit(n: i32): i32 {
    if (this.status < 0) return this.status;
    let s = host_stream_commit(<usize>n);
    if (s < 0) this.status = s;
    return s;
  }

  /** Append the UTF-8 encoding of `s`. */
  writeString(s: string): i32 {
    return this.write(Bytes.fromString(s));
  }
}

export type StreamHandler = (input: Reader, output: Writer) => void;

/**
 * Run a streaming `handler` for one invocation: the body of a streaming
 * function's `cwasi_main`. The output stream ends when the handler returns;
 * `fail(...)` inside it fails the invocation instead.
 */
export function serveStream(table: usize, count: u32, handler: StreamHandler): i32 {
  failed = false;
  failCode = 0;
  handler(new Reader(), new Writer());
  if (failed) return failCode;
  let s = host_stream_end();
  return s < 0 ? s : Status.OK;
}

/** Log a line through the host (shown by `cwasi run --verbose`). */
export function log(message: string): void {
  let msg = String.UTF8.encode(message);
  host_log(0, changetype<usize>(msg), <usize>msg.byteLength);
}

/**
 * A call to another function by name, started from inside this function.
 * Several may be in flight at once (fan-out); `wait` returns the result bytes,
 * valid until this invocation returns (`copy()` them to keep them), or null
 * on failure (see `status`).
 */
export class Call {
  status: i32 = 0;
  private done: bool = false;
  private result: Bytes = new Bytes(0, 0);

  constructor(public readonly handle: i32) {
    if (handle < 0) {
      this.status = handle;
      this.done = true;
    }
  }

  /** The payload, kept reachable until the call has been waited for (a callee may read it in place). */
  private payload: Bytes | null = null;

  static start(target: string, payload: Bytes): Call {
    let name = String.UTF8.encode(target);
    let c = new Call(host_call_start(changetype<usize>(name), <usize>name.byteLength, payload.ptr, <usize>payload.length));
    if (c.handle > 0) c.payload = payload;
    return c;
  }

  /** The result (valid during this invocation; `copy()` it to keep it), or null on failure. */
  wait(): Bytes | null {
    if (!this.done) {
      let slice = changetype<ArrayBuffer>(__new(SLICE_BYTES, idof<ArrayBuffer>()));
      let at = changetype<usize>(slice);
      this.status = host_call_wait(this.handle, at);
      this.done = true;
      this.payload = null;
      if (this.status == Status.OK) {
        this.result = new Bytes(<usize>load<u32>(at + SLICE_PTR), <i32>load<u32>(at + SLICE_LEN));
      }
    }
    return this.status == Status.OK ? this.result : null;
  }
}

/** Call `target` with `payload` and wait for its result (null on failure). */
export function call(target: string, payload: Bytes): Bytes | null {
  return Call.start(target, payload).wait();
}
