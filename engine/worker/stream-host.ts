// The host side of a streaming function's I/O (asm-functions/ABI.md,
// "Streams"): cwasi.stream_read, cwasi.stream_write and cwasi.stream_end,
// and the in-place pair: cwasi.stream_next (the next piece of the input
// where it lies: in an input, or in a live producer's chunk when the two
// share a memory, else copied into a buffer of the call's arena) and
// cwasi.stream_reserve / cwasi.stream_commit (the function writes its output
// straight into the place it will be read from: a live window's chunk, or
// the call's output chunks).
//
// A call's input stream is its inputs, one after the other; stream_read
// copies the next bytes of it into memory the function owns. What the
// function writes is appended to chunks of the call's arena (writes are
// coalesced into chunks of at least CHUNK_BYTES, each as large as what came
// before it); when the function ends its stream the chunks become the
// call's output, as if it had returned them whole: a streaming function
// runs wherever a whole-payload one does, and the channels carry its output
// unchanged. Every pointer and length is checked before a byte moves; a write beyond the call's payload limit or a
// read or write past its deadline ends the call with a typed error.

import { CwasiError } from '../errors.js';
import { STATUS } from '../abi.js';
import type { Heap } from '../memory/heap.js';
import { copyInto } from '../memory/copy.js';
import type { InvocationContext, Slice } from './context.js';

/** Smallest chunk a write opens in the arena: small writes fill it rather than each taking a block. */
export const CHUNK_BYTES = 64 * 1024;
/** The largest piece stream_next hands out, and stream_reserve with no live window, at once. */
export const NEXT_MAX_BYTES = 1 << 20;

/**
 * Where a call's input stream comes from when it is not its inputs: a live
 * ring (engine/channels/local-live.ts).
 */
export interface StreamSource {
  /** Copy the next at most `dst.length` bytes into `dst`: how many (> 0), 0 at the end, or a negative status. Throws a CwasiError to end the call. */
  read(dst: Uint8Array): number;
  /**
   * The next piece, up to `max` bytes, where it lies in `heap` (held until
   * the next call); null when the next bytes are to be `read`; 0 at the end;
   * or a negative status.
   */
  nextInPlace(max: number): { heap: Heap; ptr: number; len: number } | null | number;
  /** The piece `nextInPlace` gave was copied away: false when its producer gave up meanwhile (the copy is void), else it is no longer held. */
  copied(): boolean;
  /** The call returned: whether it read to the end (a source not read to the end tells its producer so). */
  close(): boolean;
}

/** Where a call's output stream goes when it is not the call's arena: a live ring. */
export interface StreamSink {
  /** Append `src` (copied before it returns): 0, or a negative status when nobody reads any more. Throws a CwasiError to end the call. */
  write(src: Uint8Array): number;
  /** A place in the call's memory for up to `max` output bytes (0: a chunk's worth), or a negative status. */
  reserve(max: number): Slice | number;
  /** Hand on the first `n` bytes of the last reserve: 0, or a negative status. */
  commit(n: number): number;
  /** The stream is complete; returns the bytes that stay in memory for the reader, if any (the call keeps them). */
  end(): Slice;
  readonly ended: boolean;
}

/** One call's streams. */
export interface StreamState {
  source?: StreamSource;
  sink?: StreamSink;
  /** Input slice being read, and the offset in it (no source). */
  input: number;
  offset: number;
  /** Chunks written (no sink): [ptr, ptr + len) filled of [ptr, ptr + cap). */
  chunks: Array<{ ptr: number; len: number; cap: number }>;
  written: number;
  ended: boolean;
  /** The kept slice a sink returned when the stream ended. */
  kept?: Slice;
  /** The piece the last stream_next handed out in place in another part of the memory (the function may write it on). */
  lent?: Slice;
  /** The last stream_reserve's place, until stream_commit. */
  reserved?: Slice;
  /** The call's buffer for pieces stream_next copies across. */
  staging?: Slice;
}

/** The streams of a call whose input or output is live (worker.ts sets them before it runs). */
export function liveStreams(source: StreamSource | undefined, sink: StreamSink | undefined): StreamState {
  const st: StreamState = { input: 0, offset: 0, chunks: [], written: 0, ended: false };
  if (source !== undefined) st.source = source;
  if (sink !== undefined) st.sink = sink;
  return st;
}

/** What the stream functions need of the instance they serve: its checks. */
export interface StreamGuards {
  checkOwned(ctx: InvocationContext, ptr: number, len: number, what: string): void;
  abortWith(ctx: InvocationContext, err: CwasiError): never;
}

function stateOf(ctx: InvocationContext): StreamState {
  return (ctx.stream ??= { input: 0, offset: 0, chunks: [], written: 0, ended: false });
}

/** Write {u32 ptr, u32 len} (little endian) at `at`. */
function putSlice(bytes: Uint8Array, at: number, s: Slice): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  dv.setUint32(0, s.ptr, true);
  dv.setUint32(4, s.len, true);
}

function overlaps(ptr: number, len: number, s: Slice): boolean {
  return ptr < s.ptr + s.len && s.ptr < ptr + len;
}

export class StreamHost {
  constructor(private readonly heap: Heap, private readonly guards: StreamGuards) {}

  /** stream_read(ptr, cap): bytes copied (> 0), 0 at the end of the input. */
  read(ctx: InvocationContext, ptr: number, cap: number): number {
    this.checkDeadline(ctx);
    const st = stateOf(ctx);
    st.lent = undefined;
    if (cap === 0) return 0;
    this.checkWritable(ctx, ptr, cap, 'stream read into', 'stream read buffer');
    if (st.source !== undefined) return this.guarded(ctx, () => st.source!.read(this.heap.bytes().subarray(ptr, ptr + cap)));
    while (st.input < ctx.inputs.length && st.offset >= ctx.inputs[st.input]!.len) {
      st.input++;
      st.offset = 0;
    }
    const src = ctx.inputs[st.input];
    if (src === undefined) return 0;
    const n = Math.min(cap, src.len - st.offset, 0x7fffffff);
    this.heap.bytes().copyWithin(ptr, src.ptr + st.offset, src.ptr + st.offset + n);
    st.offset += n;
    return n;
  }

  /** stream_write(ptr, len): 0, or a negative status once the stream has ended. */
  write(ctx: InvocationContext, ptr: number, len: number): number {
    const g = this.guards;
    this.checkDeadline(ctx);
    const st = stateOf(ctx);
    if (st.ended) return STATUS.BAD_HANDLE;
    // A write between stream_reserve and stream_commit takes the reserved place's turn.
    st.reserved = undefined;
    // A piece stream_next lent in place (another function's chunk) may be written on as it is.
    const lent = st.lent;
    if (lent === undefined || ptr < lent.ptr || ptr + len > lent.ptr + lent.len) g.checkOwned(ctx, ptr, len, 'stream write');
    if (len === 0) return STATUS.OK;
    if (st.sink !== undefined) {
      const status = this.guarded(ctx, () => st.sink!.write(this.heap.bytes().subarray(ptr, ptr + len)));
      if (status === STATUS.OK) st.written += len;
      return status;
    }
    if (ctx.maxPayloadBytes > 0 && st.written + len > ctx.maxPayloadBytes) {
      g.abortWith(ctx, new CwasiError('E_PAYLOAD_TOO_LARGE', `${ctx.fn}: output stream of more than ${st.written + len} bytes exceeds the limit of ${ctx.maxPayloadBytes}`));
    }
    let last = st.chunks[st.chunks.length - 1];
    if (last === undefined || last.cap - last.len < len) {
      // Chunks grow with the stream: a long one is a few blocks, not thousands.
      const cap = Math.max(len, CHUNK_BYTES, st.written);
      last = { ptr: this.allocate(ctx, cap), len: 0, cap };
      st.chunks.push(last);
    }
    // The arena block cannot overlap the guest's bytes (checkOwned, and the heap hands out each block once).
    this.heap.bytes().copyWithin(last.ptr + last.len, ptr, ptr + len);
    last.len += len;
    st.written += len;
    return STATUS.OK;
  }

  /**
   * stream_next(max, slice): the next piece of the input stream, up to
   * `max` bytes (0: up to NEXT_MAX_BYTES), written to `slice` as {u32 ptr,
   * u32 len} (len 0 at the end). In place where the function can read it
   * (an input; a live producer's chunk in this memory), else copied into the
   * call's staging buffer. Valid until the next stream_next or stream_read.
   */
  next(ctx: InvocationContext, max: number, slice: number): number {
    this.checkDeadline(ctx);
    this.checkWritable(ctx, slice, 8, 'stream_next slice');
    const st = stateOf(ctx);
    st.lent = undefined;
    const cap = max === 0 ? NEXT_MAX_BYTES : Math.min(max, NEXT_MAX_BYTES);
    let piece: Slice;
    if (st.source !== undefined) {
      const src = st.source;
      const r = this.guarded(ctx, () => src.nextInPlace(cap));
      if (typeof r === 'number') {
        if (r < 0) return r;
        piece = { ptr: 0, len: 0 };
      } else if (r !== null && r.heap === this.heap) {
        piece = { ptr: r.ptr, len: r.len };
        st.lent = piece;
      } else {
        // Another memory's chunk, or bytes in the ring: one copy into the staging buffer.
        const want = r !== null ? r.len : cap;
        if (st.staging === undefined || st.staging.len < want) {
          // Grown by doubling up to NEXT_MAX_BYTES: pieces of creeping sizes cost a few blocks, not one each.
          const len = Math.min(NEXT_MAX_BYTES, Math.max(want, CHUNK_BYTES, 2 * (st.staging?.len ?? 0)));
          st.staging = { ptr: this.allocate(ctx, len), len };
        }
        const dst = this.heap.bytes().subarray(st.staging.ptr, st.staging.ptr + want);
        let n: number;
        if (r !== null) {
          copyInto(dst, 0, r.heap.bytes().subarray(r.ptr, r.ptr + r.len));
          if (!src.copied()) return STATUS.ABORTED;
          n = r.len;
        } else {
          n = this.guarded(ctx, () => src.read(dst));
          if (n < 0) return n;
        }
        piece = { ptr: st.staging.ptr, len: n };
      }
    } else {
      // The call's inputs, one after the other, where they lie (read-only).
      while (st.input < ctx.inputs.length && st.offset >= ctx.inputs[st.input]!.len) {
        st.input++;
        st.offset = 0;
      }
      const src = ctx.inputs[st.input];
      const n = src === undefined ? 0 : Math.min(cap, src.len - st.offset);
      piece = { ptr: src === undefined ? 0 : src.ptr + st.offset, len: n };
      st.offset += n;
    }
    putSlice(this.heap.bytes(), slice, piece);
    return STATUS.OK;
  }

  /**
   * stream_reserve(max, slice): a place for up to `max` output bytes (0: a
   * chunk's worth), written to `slice` as {u32 ptr, u32 len}: a live
   * window's chunk, or room at the end of the call's output chunks. The
   * function fills it and calls stream_commit.
   */
  reserve(ctx: InvocationContext, max: number, slice: number): number {
    this.checkDeadline(ctx);
    this.checkWritable(ctx, slice, 8, 'stream_reserve slice');
    const st = stateOf(ctx);
    if (st.ended) return STATUS.BAD_HANDLE;
    let place: Slice;
    if (st.sink !== undefined) {
      const sink = st.sink;
      const r = this.guarded(ctx, () => sink.reserve(max));
      if (typeof r === 'number') return r;
      place = r;
    } else {
      // At most NEXT_MAX_BYTES at once: a reservation is a piece, not a promise of the whole output.
      const want = max === 0 ? CHUNK_BYTES : Math.min(max, NEXT_MAX_BYTES);
      let last = st.chunks[st.chunks.length - 1];
      if (last === undefined || last.cap - last.len < Math.min(want, CHUNK_BYTES)) {
        const cap = Math.max(want, CHUNK_BYTES, st.written);
        last = { ptr: this.allocate(ctx, cap), len: 0, cap };
        st.chunks.push(last);
      }
      place = { ptr: last.ptr + last.len, len: Math.min(want, last.cap - last.len) };
    }
    st.reserved = place;
    putSlice(this.heap.bytes(), slice, place);
    return STATUS.OK;
  }

  /** stream_commit(n): the first `n` bytes of the last reservation are output. */
  commit(ctx: InvocationContext, n: number): number {
    const g = this.guards;
    this.checkDeadline(ctx);
    const st = stateOf(ctx);
    if (st.ended) return STATUS.BAD_HANDLE;
    const r = st.reserved;
    if (r === undefined || n > r.len) g.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: stream_commit of ${n} bytes after a reservation of ${r?.len ?? 0}`));
    st.reserved = undefined;
    if (st.sink !== undefined) {
      const sink = st.sink;
      const status = this.guarded(ctx, () => sink.commit(n));
      if (status === STATUS.OK) st.written += n;
      return status;
    }
    if (ctx.maxPayloadBytes > 0 && st.written + n > ctx.maxPayloadBytes) {
      g.abortWith(ctx, new CwasiError('E_PAYLOAD_TOO_LARGE', `${ctx.fn}: output stream of more than ${st.written + n} bytes exceeds the limit of ${ctx.maxPayloadBytes}`));
    }
    st.chunks[st.chunks.length - 1]!.len += n;
    st.written += n;
    return STATUS.OK;
  }

  /** stream_end(): the output stream is complete. */
  end(ctx: InvocationContext): number {
    const st = stateOf(ctx);
    if (st.ended) return STATUS.OK;
    if (st.sink !== undefined) st.kept = this.guarded(ctx, () => st.sink!.end());
    st.ended = true;
    return STATUS.OK;
  }

  /** Bytes the host writes for the guest: its own, and never an input or a call result (read-only). */
  private checkWritable(ctx: InvocationContext, ptr: number, len: number, what: string, owned = what): void {
    const g = this.guards;
    for (const s of ctx.inputs) if (overlaps(ptr, len, s)) g.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: ${what} [${ptr}, +${len}) overlaps an input (inputs are read-only)`));
    for (const s of ctx.results) if (overlaps(ptr, len, s)) g.abortWith(ctx, new CwasiError('E_BAD_DESCRIPTOR', `${ctx.fn}: ${what} [${ptr}, +${len}) overlaps a call result (read-only)`));
    g.checkOwned(ctx, ptr, len, owned);
  }

  /** Run a source's or sink's step; its CwasiError ends the call. */
  private guarded<T>(ctx: InvocationContext, step: () => T): T {
    try {
      return step();
    } catch (err) {
      if (err instanceof CwasiError) this.guards.abortWith(ctx, err);
      throw err;
    }
  }

  private checkDeadline(ctx: InvocationContext): void {
    if (Date.now() > ctx.deadline) this.guards.abortWith(ctx, new CwasiError('E_TIMEOUT', `${ctx.fn}: deadline passed while streaming`));
  }

  private allocate(ctx: InvocationContext, bytes: number): number {
    return this.guarded(ctx, () => this.heap.allocIn(ctx.arena, bytes));
  }
}

/**
 * The call's output once its function returned success: what it reported
 * with `output`, or its ended output stream as one slice of its arena.
 */
export function finalOutput(ctx: InvocationContext, heap: Heap): Slice {
  const st = ctx.stream;
  const streamed = st !== undefined && (st.ended || st.written > 0);
  if (ctx.output !== undefined) {
    if (streamed) throw new CwasiError('E_WASM_INVALID', `${ctx.fn} both reported an output and wrote an output stream`);
    return ctx.output;
  }
  if (st === undefined || !st.ended) {
    throw new CwasiError('E_WASM_INVALID', st !== undefined && st.written > 0 ? `${ctx.fn} returned without ending its output stream` : `${ctx.fn} returned without reporting an output`);
  }
  if (st.sink !== undefined) return st.kept ?? { ptr: 0, len: 0 };
  if (st.chunks.length === 0) return { ptr: 0, len: 0 };
  if (st.chunks.length === 1) return { ptr: st.chunks[0]!.ptr, len: st.chunks[0]!.len };
  // Several chunks: one contiguous output (the chunks stay in the arena until the call's release).
  const at = heap.allocIn(ctx.arena, st.written);
  const bytes = heap.bytes();
  let o = at;
  for (const c of st.chunks) {
    bytes.copyWithin(o, c.ptr, c.ptr + c.len);
    o += c.len;
  }
  return { ptr: at, len: st.written };
}
