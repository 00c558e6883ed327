// The layout of a ring (ring.ts): the SharedArrayBuffer's header words, the
// frames written into its byte stream, and their constants.
//
// Messages are frames: a 16-byte header then the payload, written as a byte
// stream, so a payload larger than the ring streams through it in pieces with
// backpressure (the producer waits when the ring is full, the consumer when
// it is empty) and is never held whole by the ring.
//
// RING LAYOUT (byte offsets into the SharedArrayBuffer)
//
//  ┌────────┬──────────────────┬───────┬──────────────────────────────────────────┐
//  │ offset │ field            │ owner │ meaning                                  │
//  ├────────┼──────────────────┼───────┼──────────────────────────────────────────┤
//  │   0    │ HEAD             │ prod. │ bytes written, ever (u32, wraps)         │
//  │   4    │ PRODUCER_WAITING │ prod. │ while the producer sleeps on TAIL: the   │
//  │        │                  │       │ free bytes it waits for (else 0)         │
//  │  64    │ TAIL             │ cons. │ bytes read, ever (u32, wraps)            │
//  │  68    │ CONSUMER_WAITING │ cons. │ while the consumer sleeps on HEAD: the   │
//  │        │                  │       │ readable bytes it waits for (else 0)     │
//  │  72    │ CONSUMER_ATTACHED│ cons. │ 1 once a consumer started reading        │
//  │ 128    │ STATE            │ both  │ 0 open, 1 closed (no more frames),       │
//  │        │                  │       │ 2 aborted (either side gave up)          │
//  │ 132    │ CAPACITY         │ init  │ data bytes, a power of two               │
//  │ 136    │ MAGIC            │ init  │ RING_MAGIC                               │
//  │ 140    │ RESETS           │ owner │ times the ring was reset (diagnostics)   │
//  │ 192    │ data[CAPACITY]   │       │ the byte stream                          │
//  └────────┴──────────────────┴───────┴──────────────────────────────────────────┘
//
// HEAD and TAIL sit on separate cache lines so the two sides do not share one.
// used = (HEAD - TAIL) mod 2^32; a byte at stream position p lives at
// data[p & (CAPACITY - 1)].
//
// FRAME HEADER (16 bytes, little endian, inside the stream)
//
//  ┌────────┬─────────┬──────────────────────────────────────────────────────┐
//  │ offset │ field   │ meaning                                              │
//  ├────────┼─────────┼──────────────────────────────────────────────────────┤
//  │   0    │ TYPE    │ FRAME_MAGIC | type (FRAME_DATA, FRAME_DESC,          │
//  │        │         │ FRAME_END)                                           │
//  │   4    │ LENGTH  │ payload bytes that follow                            │
//  │   8    │ SEQ     │ frame number on this ring since the last reset       │
//  │  12    │ AUX     │ total bytes of the message the frame belongs to, or  │
//  │        │         │ LIVE_AUX in a live stream (total not known yet)      │
//  └────────┴─────────┴──────────────────────────────────────────────────────┘
//
// DESC payload (16 bytes): u32 source index, u32 generation, u32 ptr, u32 len:
// "the bytes are at [ptr, ptr+len) of source memory `index`, generation
// `generation`". The reader copies them across and checks every field.
//
// A live stream (engine/channels/local-live.ts: a streaming function's output
// written while it runs) is DATA frames and at most one DESC frame, or (in
// place) one DESC frame per chunk of the producer's window, which the
// consumer frees only once it is done with that chunk, and at most one more
// DESC frame; all with AUX = LIVE_AUX, then one END frame whose 8-byte payload is the stream's
// total length (u64 little endian), which the reader checks against what it
// received.

export const RING = {
  HEAD: 0,
  PRODUCER_WAITING: 4,
  TAIL: 64,
  CONSUMER_WAITING: 68,
  CONSUMER_ATTACHED: 72,
  STATE: 128,
  CAPACITY: 132,
  MAGIC: 136,
  RESETS: 140,
} as const;
export const RING_HEADER_BYTES = 192;
export const RING_MAGIC = 0x52494e47; // 'RING'

export const STATE_OPEN = 0;
export const STATE_CLOSED = 1;
export const STATE_ABORTED = 2;

/** Whether the ring in `buffer` was aborted: its owner drops an aborted ring, so a thread that kept the buffer may forget it. */
export function ringAborted(buffer: SharedArrayBuffer): boolean {
  return buffer.byteLength >= RING_HEADER_BYTES && Atomics.load(new Int32Array(buffer, RING.STATE, 1), 0) === STATE_ABORTED;
}

export const FRAME_HEADER_BYTES = 16;
export const FRAME = { TYPE: 0, LENGTH: 4, SEQ: 8, AUX: 12 } as const;
export const FRAME_MAGIC = 0xc5a50000;
export const FRAME_TYPE_MASK = 0xffff;
export const FRAME_DATA = 1;
export const FRAME_DESC = 2;
export const FRAME_END = 3;
export const END_BYTES = 8;
/** AUX of every frame of a live stream. */
export const LIVE_AUX = 0xffffffff;
export const DESC_BYTES = 16;
export const DESC = { SOURCE: 0, GENERATION: 4, PTR: 8, LEN: 12 } as const;

export const MIN_RING_BYTES = 64;
export const MAX_RING_BYTES = 1 << 30;

export interface FrameHeader {
  type: number;
  length: number;
  seq: number;
  aux: number;
}

export interface Descriptor {
  source: number;
  generation: number;
  ptr: number;
  len: number;
}

/** Result of a wait that did not get what it waited for. */
export type WaitOutcome = 'ok' | 'closed' | 'aborted' | 'timeout';

/** The DESC payload at `at` of `dv`. */
export function decodeDescriptor(dv: DataView, at: number): Descriptor {
  return {
    source: dv.getUint32(at + DESC.SOURCE, true), generation: dv.getUint32(at + DESC.GENERATION, true),
    ptr: dv.getUint32(at + DESC.PTR, true), len: dv.getUint32(at + DESC.LEN, true),
  };
}

/** Write `d` as a DESC payload at `at` of `dv`. */
export function encodeDescriptor(dv: DataView, at: number, d: Descriptor): void {
  dv.setUint32(at + DESC.SOURCE, d.source >>> 0, true);
  dv.setUint32(at + DESC.GENERATION, d.generation >>> 0, true);
  dv.setUint32(at + DESC.PTR, d.ptr >>> 0, true);
  dv.setUint32(at + DESC.LEN, d.len >>> 0, true);
}
