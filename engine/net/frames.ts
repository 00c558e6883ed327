// Encoding and incremental parsing of the Networked Buffer frames described
// in protocol.ts.
//
// The parser is fed byte chunks of any size, split anywhere (mid-header,
// mid-payload), and calls a FrameHandler as frames complete. It validates
// every header field before acting on it: magic and version, type, flags,
// the reserved field, the stream id class, and LENGTH against the per-type
// bounds of PAYLOAD_LIMITS. Nothing is read, delivered or allocated for a
// frame whose header failed a check; the parser then stays failed and throws
// the same CwasiError (E_BAD_DESCRIPTOR) on every later push.
//
// Ownership and allocation rules:
// - DATA payloads are never copied or buffered by the parser: `data()` gets
//   subarrays of the chunk being pushed, valid only during the call. A reader
//   that places payload bytes somewhere itself (a socket read straight into
//   the consumer's buffer) reports them with `deliveredDirect(n)` instead of
//   pushing them; see `dataRemaining`.
// - Control payloads (every type but DATA) are handed over as a view of the
//   pushed chunk when they arrive whole, else assembled in one control buffer
//   that grows on demand up to MAX_CONTROL_PAYLOAD and is then reused. The
//   view is valid only during `control()`; decodeControl copies what it keeps.
// - The header object passed to `control()` is reused for the next frame.
//
// Encoders allocate (one Buffer per frame); they serve control frames, tests
// and DATA headers (16 bytes from Node's pooled allocator), never payloads.

import { CwasiError } from '../errors.js';
import {
  ABORT,
  CREDIT,
  FLAG_END_OF_STREAM,
  FLAG_OPEN_ENDED,
  FLAGS_KNOWN,
  FRAME_HEADER_BYTES,
  FRAME_TYPE,
  GREETING,
  HEADER,
  MAC_BYTES,
  MAX_ABORT_CODE_BYTES,
  MAX_ABORT_PAYLOAD,
  MAX_CONTROL_PAYLOAD,
  MAX_META_BYTES,
  MAX_NODE_NAME_BYTES,
  MAX_TOTAL_BYTES,
  MESSAGE_FRAME_TYPE,
  NET_MAGIC,
  NET_MAGIC_WORD,
  NET_VERSION,
  NONCE_BYTES,
  OPEN,
  PAYLOAD_LIMITS,
  PING_TOKEN_BYTES,
  type FrameHeader,
  type FrameType,
  type NetMessage,
  type StreamMeta,
} from './protocol.js';

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
/** Rejects invalid UTF-8 (names, metadata): a peer must not smuggle replacement characters past a check. */
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
/** Error messages are informational; invalid bytes become U+FFFD. */
const utf8Lenient = new TextDecoder('utf-8');
const ABORT_CODE_PATTERN = /^[A-Za-z0-9_]+$/;

/** Limits indexed by type code; undefined for a code this version does not define. */
const LIMITS_BY_CODE: Array<{ readonly min: number; readonly max: number } | undefined> = [];
for (const [code, limit] of Object.entries(PAYLOAD_LIMITS)) LIMITS_BY_CODE[Number(code)] = limit;

function bad(message: string, details?: Record<string, unknown>): CwasiError {
  return new CwasiError('E_BAD_DESCRIPTOR', message, details);
}

/** A copy of `b[start, end)` as a plain Uint8Array (Buffer#slice would return a view, not a copy). */
function copyOf(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Frames that belong to the connection (stream id 0). */
function isConnectionFrame(type: FrameType): boolean {
  return type === FRAME_TYPE.HELLO || type === FRAME_TYPE.CHALLENGE || type === FRAME_TYPE.PROOF ||
    type === FRAME_TYPE.WELCOME || type === FRAME_TYPE.PING || type === FRAME_TYPE.PONG;
}

// ── Encoding ────────────────────────────────────────────────────────────────

/** Write a 16-byte frame header at `offset` of `target`. Arguments are trusted (validated by the caller). */
export function writeHeader(target: Uint8Array, offset: number, type: FrameType, flags: number, streamId: number, length: number): void {
  writeU32(target, offset + HEADER.MAGIC, NET_MAGIC_WORD);
  target[offset + HEADER.TYPE] = type;
  target[offset + HEADER.FLAGS] = flags;
  target[offset + HEADER.RESERVED] = 0;
  target[offset + HEADER.RESERVED + 1] = 0;
  writeU32(target, offset + HEADER.STREAM, streamId >>> 0);
  writeU32(target, offset + HEADER.LENGTH, length >>> 0);
}

/** A header on its own, for a DATA frame whose payload is written from the caller's memory. Allocates 16 bytes (pooled). */
export function encodeHeader(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeHeader(b, 0, type, flags, streamId, length);
  return b;
}

/** Header and payload in one new Buffer (control frames). */
export function encodeFrame(type: FrameType, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const limit = PAYLOAD_LIMITS[type];
  // Bound: never put a frame on the wire that the peer's parser must reject.
  if (payload.length < limit.min || payload.length > limit.max) {
    throw bad(`frame type ${type} payload of ${payload.length} bytes is outside ${limit.min}..${limit.max}`);
  }
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeHeader(b, 0, type, flags, streamId, payload.length);
  b.set(payload, FRAME_HEADER_BYTES);
  return b;
}

function checkStreamId(streamId: number): void {
  if (!Number.isInteger(streamId) || streamId < 1 || streamId > 0xffffffff) throw bad(`stream id ${streamId} is not in 1..2^32-1`);
}

function encodeGreeting(type: FrameType, nonce: Uint8Array, nodeName: string): Buffer {
  if (nonce.length !== NONCE_BYTES) throw bad(`nonce must be ${NONCE_BYTES} bytes`);
  const name = utf8.encode(nodeName);
  // Bound: the name length travels in one byte.
  if (name.length < 1 || name.length > MAX_NODE_NAME_BYTES) {
    throw new CwasiError('E_CONFIG', `node name must be 1..${MAX_NODE_NAME_BYTES} UTF-8 bytes, got ${name.length}`);
  }
  const payload = new Uint8Array(GREETING.NAME + name.length);
  payload.set(nonce, GREETING.NONCE);
  payload[GREETING.NAME_LENGTH] = name.length;
  payload.set(name, GREETING.NAME);
  return encodeFrame(type, 0, 0, payload);
}

/** The OPEN payload's metadata bytes, validated: a JSON object of at most MAX_META_BYTES. */
export function encodeMeta(meta: StreamMeta): Uint8Array {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new CwasiError('E_CONFIG', 'stream metadata must be a JSON object');
  let json: string;
  try {
    json = JSON.stringify(meta);
  } catch (err) {
    throw new CwasiError('E_CONFIG', `stream metadata is not serialisable: ${(err as Error).message}`);
  }
  const bytes = utf8.encode(json);
  // Bound: the receiver refuses larger metadata before reading it.
  if (bytes.length > MAX_META_BYTES) {
    throw new CwasiError('E_PAYLOAD_TOO_LARGE', `stream metadata is ${bytes.length} bytes; the limit is ${MAX_META_BYTES}`);
  }
  return bytes;
}

/** An OPEN frame. `metaBytes` from encodeMeta. `totalBytes` null: an open-ended stream. */
export function encodeOpen(streamId: number, totalBytes: number | null, metaBytes: Uint8Array): Buffer {
  checkStreamId(streamId);
  if (totalBytes === null) {
    if (metaBytes.length > MAX_META_BYTES) throw new CwasiError('E_PAYLOAD_TOO_LARGE', `stream metadata is ${metaBytes.length} bytes; the limit is ${MAX_META_BYTES}`);
    const payload = new Uint8Array(OPEN.META + metaBytes.length);
    payload.set(metaBytes, OPEN.META);
    return encodeFrame(FRAME_TYPE.OPEN, FLAG_OPEN_ENDED, streamId, payload);
  }
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0 || totalBytes > MAX_TOTAL_BYTES) throw bad(`stream length ${totalBytes} is not a safe non-negative integer`);
  if (metaBytes.length > MAX_META_BYTES) throw new CwasiError('E_PAYLOAD_TOO_LARGE', `stream metadata is ${metaBytes.length} bytes; the limit is ${MAX_META_BYTES}`);
  const payload = new Uint8Array(OPEN.META + metaBytes.length);
  writeU32(payload, OPEN.TOTAL_LO, totalBytes % 2 ** 32);
  writeU32(payload, OPEN.TOTAL_HI, Math.floor(totalBytes / 2 ** 32));
  payload.set(metaBytes, OPEN.META);
  return encodeFrame(FRAME_TYPE.OPEN, totalBytes === 0 ? FLAG_END_OF_STREAM : 0, streamId, payload);
}

/** An ABORT frame; a message too long for MAX_ABORT_PAYLOAD is cut (on a character boundary), never refused. */
export function encodeAbort(streamId: number, code: string, message: string): Buffer {
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffffffff) throw bad(`stream id ${streamId} is not a u32`);
  if (code.length < 1 || code.length > MAX_ABORT_CODE_BYTES || !ABORT_CODE_PATTERN.test(code)) throw bad(`abort code ${JSON.stringify(code)} is not 1..${MAX_ABORT_CODE_BYTES} of [A-Za-z0-9_]`);
  const room = new Uint8Array(MAX_ABORT_PAYLOAD);
  room[ABORT.CODE_LENGTH] = code.length;
  utf8.encodeInto(code, room.subarray(ABORT.CODE));
  // Bound: encodeInto writes whole characters only, up to the room left.
  const { written } = utf8.encodeInto(message, room.subarray(ABORT.CODE + code.length));
  return encodeFrame(FRAME_TYPE.ABORT, 0, streamId, room.subarray(0, ABORT.CODE + code.length + written));
}

/** A CREDIT frame: the opener may send bytes [0, limit) of stream `streamId`. */
export function encodeCredit(streamId: number, limit: number): Buffer {
  checkStreamId(streamId);
  if (!Number.isSafeInteger(limit) || limit < 0) throw bad(`credit limit ${limit} is not a safe non-negative integer`);
  const payload = new Uint8Array(CREDIT.LIMIT_HI + 4);
  writeU32(payload, CREDIT.LIMIT_LO, limit % 2 ** 32);
  writeU32(payload, CREDIT.LIMIT_HI, Math.floor(limit / 2 ** 32));
  return encodeFrame(FRAME_TYPE.CREDIT, 0, streamId, payload);
}

/**
 * Any message as one frame (allocates and copies; DATA only for tests and
 * small payloads — the transport writes DATA headers and payloads separately).
 */
export function encodeMessage(msg: NetMessage): Buffer {
  const type = MESSAGE_FRAME_TYPE[msg.type];
  switch (msg.type) {
    case 'hello':
    case 'challenge':
      return encodeGreeting(type, msg.nonce, msg.nodeName);
    case 'proof':
    case 'welcome':
      if (msg.mac.length !== MAC_BYTES) throw bad(`mac must be ${MAC_BYTES} bytes`);
      return encodeFrame(type, 0, 0, msg.mac);
    case 'open':
      return encodeOpen(msg.streamId, msg.openEnded === true ? null : msg.totalBytes, encodeMeta(msg.meta));
    case 'data':
      checkStreamId(msg.streamId);
      return encodeFrame(type, msg.endOfStream ? FLAG_END_OF_STREAM : 0, msg.streamId, msg.bytes);
    case 'end':
      checkStreamId(msg.streamId);
      return encodeFrame(type, 0, msg.streamId);
    case 'abort':
      return encodeAbort(msg.streamId, msg.code, msg.message);
    case 'credit':
      return encodeCredit(msg.streamId, msg.limit);
    case 'ping':
    case 'pong':
      if (msg.token.length !== PING_TOKEN_BYTES) throw bad(`ping token must be ${PING_TOKEN_BYTES} bytes`);
      return encodeFrame(type, 0, 0, msg.token);
  }
}

// ── Decoding control payloads ───────────────────────────────────────────────

function decodeName(payload: Uint8Array, what: string): string {
  const n = payload[GREETING.NAME_LENGTH]!;
  // Bound: the declared name length must account for the payload exactly.
  if (n < 1 || GREETING.NAME + n !== payload.length) throw bad(`${what} declares a ${n}-byte name in a ${payload.length}-byte payload`);
  try {
    return utf8Strict.decode(payload.subarray(GREETING.NAME));
  } catch {
    throw bad(`${what} node name is not valid UTF-8`);
  }
}

/**
 * The typed message of a complete control frame (any type but DATA). The
 * header was validated by the parser; this checks the payload's inner
 * fields and copies every byte it keeps out of `payload`.
 */
export function decodeControl(header: FrameHeader, payload: Uint8Array): Exclude<NetMessage, { type: 'data' }> {
  switch (header.type) {
    case FRAME_TYPE.HELLO:
    case FRAME_TYPE.CHALLENGE: {
      const nodeName = decodeName(payload, header.type === FRAME_TYPE.HELLO ? 'HELLO' : 'CHALLENGE');
      const nonce = copyOf(payload, GREETING.NONCE, GREETING.NONCE + NONCE_BYTES);
      return header.type === FRAME_TYPE.HELLO ? { type: 'hello', nonce, nodeName } : { type: 'challenge', nonce, nodeName };
    }
    case FRAME_TYPE.PROOF:
      return { type: 'proof', mac: copyOf(payload) };
    case FRAME_TYPE.WELCOME:
      return { type: 'welcome', mac: copyOf(payload) };
    case FRAME_TYPE.OPEN: {
      const lo = readU32(payload, OPEN.TOTAL_LO);
      const hi = readU32(payload, OPEN.TOTAL_HI);
      // Bound: the u64 must be exact in a JS number (≤ 2^53 - 1).
      if (hi > 0x1fffff) throw bad(`OPEN declares a stream length beyond 2^53 (high word 0x${hi.toString(16)})`);
      let totalBytes = hi * 2 ** 32 + lo;
      const endOfStream = (header.flags & FLAG_END_OF_STREAM) !== 0;
      const openEnded = (header.flags & FLAG_OPEN_ENDED) !== 0;
      if (openEnded) {
        if (totalBytes !== 0 || endOfStream) throw bad(`OPEN of open-ended stream ${header.streamId}: the length must be 0 and END_OF_STREAM clear`);
        totalBytes = MAX_TOTAL_BYTES;
      } else if (endOfStream !== (totalBytes === 0)) throw bad(`OPEN of stream ${header.streamId}: END_OF_STREAM must be set exactly when the length is 0`);
      let meta: unknown;
      try {
        meta = JSON.parse(utf8Strict.decode(payload.subarray(OPEN.META)));
      } catch {
        throw bad(`OPEN of stream ${header.streamId}: metadata is not UTF-8 JSON`);
      }
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw bad(`OPEN of stream ${header.streamId}: metadata is not a JSON object`);
      return { type: 'open', streamId: header.streamId, totalBytes, meta: meta as StreamMeta, endOfStream, openEnded };
    }
    case FRAME_TYPE.END:
      return { type: 'end', streamId: header.streamId };
    case FRAME_TYPE.ABORT: {
      const n = payload[ABORT.CODE_LENGTH]!;
      // Bound: the code must fit the payload and the code limit.
      if (n < 1 || n > MAX_ABORT_CODE_BYTES || ABORT.CODE + n > payload.length) throw bad(`ABORT declares a ${n}-byte code in a ${payload.length}-byte payload`);
      let code = '';
      for (let i = 0; i < n; i++) code += String.fromCharCode(payload[ABORT.CODE + i]!);
      if (!ABORT_CODE_PATTERN.test(code)) throw bad('ABORT code is not [A-Za-z0-9_]');
      return { type: 'abort', streamId: header.streamId, code, message: utf8Lenient.decode(payload.subarray(ABORT.CODE + n)) };
    }
    case FRAME_TYPE.CREDIT: {
      const hi = readU32(payload, CREDIT.LIMIT_HI);
      // Bound: the u64 must be exact in a JS number (≤ 2^53 - 1).
      if (hi > 0x1fffff) throw bad(`CREDIT of stream ${header.streamId} beyond 2^53 (high word 0x${hi.toString(16)})`);
      return { type: 'credit', streamId: header.streamId, limit: hi * 2 ** 32 + readU32(payload, CREDIT.LIMIT_LO) };
    }
    case FRAME_TYPE.PING:
      return { type: 'ping', token: copyOf(payload) };
    case FRAME_TYPE.PONG:
      return { type: 'pong', token: copyOf(payload) };
    case FRAME_TYPE.DATA:
      throw new CwasiError('E_INTERNAL', 'decodeControl called with a DATA frame');
  }
}

// ── Parsing ─────────────────────────────────────────────────────────────────

/** What the parser calls as frames complete. Calls may stop the parser (`stop()`); none may keep the views. */
export interface FrameHandler {
  /** A complete frame of any type but DATA. `header` is reused; `payload` is valid only during the call. */
  control(header: FrameHeader, payload: Uint8Array): void;
  /** A DATA header passed its checks; `length` payload bytes follow (possibly 0). */
  dataStart(streamId: number, flags: number, length: number): void;
  /** The next bytes of the current DATA payload: a view of the pushed chunk, valid only during the call. */
  data(bytes: Uint8Array): void;
  /** The current DATA payload is complete. */
  dataEnd(): void;
}

const S_HEADER = 0;
const S_CONTROL = 1;
const S_DATA = 2;

export class FrameParser {
  private readonly handler: FrameHandler;
  private state = S_HEADER;
  /** A header split across chunks is assembled here. */
  private readonly headerBuf = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** The frame being read; reused for every frame. */
  private readonly current: FrameHeader = { type: FRAME_TYPE.PING, flags: 0, streamId: 0, length: 0 };
  /** A control payload split across chunks is assembled here; grows up to MAX_CONTROL_PAYLOAD. */
  private controlBuf: Uint8Array = EMPTY;
  private controlFill = 0;
  /** Payload bytes still to come in the current DATA frame. */
  private remaining = 0;
  private failure: CwasiError | null = null;
  private stopped = false;
  /**
   * Largest control payload accepted right now, on top of PAYLOAD_LIMITS. A
   * connection lowers it during the handshake, so that an unauthenticated peer
   * cannot make it buffer a 64 KiB OPEN before it is refused.
   */
  controlLimit = MAX_CONTROL_PAYLOAD;
  /** Frames completed (diagnostics). */
  frames = 0;

  constructor(handler: FrameHandler) {
    this.handler = handler;
  }

  /** Payload bytes still to come in the current DATA frame; 0 when not inside a DATA payload. */
  get dataRemaining(): number {
    return this.state === S_DATA ? this.remaining : 0;
  }

  /** Bytes still needed to complete the next header; 0 when inside a payload. */
  get headerBytesMissing(): number {
    return this.state === S_HEADER ? FRAME_HEADER_BYTES - this.headerFill : 0;
  }

  /** Bytes still needed to complete the current control payload; 0 when not inside one. */
  get controlBytesMissing(): number {
    return this.state === S_CONTROL ? this.current.length - this.controlFill : 0;
  }

  /** The error the parser failed with, if any. */
  get failed(): CwasiError | null {
    return this.failure;
  }

  /** Stop parsing: the rest of the current chunk and every later push are ignored (the connection is going away). */
  stop(): void {
    this.stopped = true;
  }

  /** Consume a chunk (any size, any split). Throws E_BAD_DESCRIPTOR on malformed input, then stays failed. */
  push(chunk: Uint8Array): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err instanceof CwasiError ? err : new CwasiError('E_INTERNAL', `frame handler failed: ${String(err)}`, undefined, { cause: err });
      this.stopped = true;
      throw this.failure;
    }
  }

  /**
   * The caller placed `n` bytes of the current DATA payload itself (a socket
   * read straight into the consumer's buffer). Completes the frame when they
   * were its last bytes.
   */
  deliveredDirect(n: number): void {
    // Bound: a direct read was sized to at most dataRemaining; anything else is a reader bug.
    if (this.state !== S_DATA || !Number.isInteger(n) || n < 0 || n > this.remaining) {
      throw new CwasiError('E_INTERNAL', `direct delivery of ${n} bytes with ${this.dataRemaining} expected`);
    }
    this.remaining -= n;
    if (this.remaining === 0) this.finishData();
  }

  private consume(chunk: Uint8Array): void {
    const end = chunk.length;
    let off = 0;
    while (off < end && !this.stopped) {
      if (this.state === S_HEADER) {
        if (this.headerFill === 0 && end - off >= FRAME_HEADER_BYTES) {
          // Whole header in the chunk: read it in place.
          this.beginFrame(chunk, off);
          off += FRAME_HEADER_BYTES;
        } else {
          const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, end - off);
          this.headerBuf.set(chunk.subarray(off, off + take), this.headerFill);
          this.headerFill += take;
          off += take;
          if (this.headerFill === FRAME_HEADER_BYTES) {
            this.headerFill = 0;
            this.beginFrame(this.headerBuf, 0);
          }
        }
      } else if (this.state === S_DATA) {
        const take = Math.min(this.remaining, end - off);
        this.remaining -= take;
        this.handler.data(chunk.subarray(off, off + take));
        off += take;
        if (this.remaining === 0) this.finishData();
      } else {
        const length = this.current.length;
        if (this.controlFill === 0 && end - off >= length) {
          // Whole payload in the chunk: hand over a view, no copy.
          this.finishControl(chunk.subarray(off, off + length));
          off += length;
        } else {
          if (this.controlBuf.length < length) {
            // Bound: `length` passed PAYLOAD_LIMITS, so the buffer never exceeds MAX_CONTROL_PAYLOAD.
            this.controlBuf = new Uint8Array(Math.min(MAX_CONTROL_PAYLOAD, Math.max(length, 2 * this.controlBuf.length, 512)));
          }
          const take = Math.min(length - this.controlFill, end - off);
          this.controlBuf.set(chunk.subarray(off, off + take), this.controlFill);
          this.controlFill += take;
          off += take;
          if (this.controlFill === length) {
            this.controlFill = 0;
            this.finishControl(this.controlBuf.subarray(0, length));
          }
        }
      }
    }
  }

  /** Validate the header at `b[o..o+16)` and enter the frame's payload state. */
  private beginFrame(b: Uint8Array, o: number): void {
    const word = readU32(b, o + HEADER.MAGIC);
    if (word >>> 8 !== NET_MAGIC) throw bad(`bad frame magic 0x${word.toString(16).padStart(8, '0')}`, { offset: this.frames });
    if ((word & 0xff) !== NET_VERSION) throw bad(`unsupported protocol version ${word & 0xff} (this node speaks ${NET_VERSION})`);
    const type = b[o + HEADER.TYPE]!;
    const limit = LIMITS_BY_CODE[type];
    if (limit === undefined) throw bad(`unknown frame type ${type}`);
    const flags = b[o + HEADER.FLAGS]!;
    if ((flags & ~FLAGS_KNOWN) !== 0) throw bad(`unknown flags 0x${flags.toString(16)} on frame type ${type}`);
    if ((flags & FLAG_END_OF_STREAM) !== 0 && type !== FRAME_TYPE.OPEN && type !== FRAME_TYPE.DATA) {
      throw bad(`END_OF_STREAM on frame type ${type}`);
    }
    if ((flags & FLAG_OPEN_ENDED) !== 0 && type !== FRAME_TYPE.OPEN) throw bad(`OPEN_ENDED on frame type ${type}`);
    if (b[o + HEADER.RESERVED] !== 0 || b[o + HEADER.RESERVED + 1] !== 0) throw bad('reserved header field is not 0');
    const streamId = readU32(b, o + HEADER.STREAM);
    const t = type as FrameType;
    if (isConnectionFrame(t) ? streamId !== 0 : streamId === 0 && t !== FRAME_TYPE.ABORT) {
      throw bad(`frame type ${type} on stream ${streamId}`);
    }
    const length = readU32(b, o + HEADER.LENGTH);
    // Bound: LENGTH is checked against the type's limits before any payload byte is read or any buffer sized.
    if (length < limit.min || length > limit.max) throw bad(`frame type ${type} declares ${length} payload bytes; allowed ${limit.min}..${limit.max}`);
    if (t !== FRAME_TYPE.DATA && length > this.controlLimit) throw bad(`frame type ${type} declares ${length} payload bytes; ${this.controlLimit} allowed now`);

    const h = this.current;
    h.type = t;
    h.flags = flags;
    h.streamId = streamId;
    h.length = length;
    if (t === FRAME_TYPE.DATA) {
      this.state = S_DATA;
      this.remaining = length;
      this.handler.dataStart(streamId, flags, length);
      if (length === 0 && this.state === S_DATA) this.finishData();
    } else if (length === 0) {
      this.finishControl(EMPTY);
    } else {
      this.state = S_CONTROL;
      this.controlFill = 0;
    }
  }

  private finishData(): void {
    this.state = S_HEADER;
    this.frames++;
    this.handler.dataEnd();
  }

  private finishControl(payload: Uint8Array): void {
    this.state = S_HEADER;
    this.frames++;
    this.handler.control(this.current, payload);
  }
}
