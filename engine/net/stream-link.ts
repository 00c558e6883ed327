// What a stream may ask of the connection it runs on. The stream classes
// (outgoing-stream.ts, incoming-stream.ts) see only this interface, never
// the Connection class: they queue their own frames and report their own
// end, and the connection does the socket work.

import type { CwasiError } from '../errors.js';
import type { IncomingStream } from './incoming-stream.js';
import type { OutgoingStream } from './outgoing-stream.js';

export interface StreamLink {
  /** The peer's authenticated node name. */
  readonly peer: string;
  /** Tell the peer this stream was given up (an ABORT frame). */
  sendAbort(id: number, err: CwasiError): void;
  /** Let the opener send bytes [0, limit) of this incoming stream (a CREDIT frame). */
  sendCredit(id: number, limit: number): void;
  /** Tell the opener every byte of this incoming stream landed (an END frame). */
  sendEnd(id: number): void;
  /** An outgoing stream has a new chunk: put it in the pump's turn. */
  schedule(s: OutgoingStream): void;
  /** `n` bytes of an incoming stream were copied aside (no destination yet). */
  holdBuffered(n: number): void;
  /** `n` held bytes were taken or dropped: reading may resume. */
  releaseBuffered(n: number): void;
  /** A socket read targeted at this stream's destination has not returned yet. */
  readPendingInto(s: IncomingStream): boolean;
  /** Stream `id` (of this direction) finished (`ok`) or failed: the connection forgets it and counts it. */
  streamClosed(direction: 'in' | 'out', id: number, ok: boolean): void;
}
