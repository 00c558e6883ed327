// Authentication of the control plane with the cluster secret: every control
// message (deploy, run, release, cancel and their replies) and every registry
// record in the KV buckets is sealed with an HMAC-SHA256, so that reaching
// NATS is not enough to deploy, run or redirect anything. This holds whether
// or not NATS itself asks for credentials (a second, independent layer).
//
// A sealed message is one header line of JSON, a newline, then the body
// (the message itself, JSON text, as UTF-8 bytes):
//
//   ┌──────────────────────────── header (JSON, ≤ MAX_HEADER_BYTES) ─┐ ┌────┐ ┌──────┐
//   │ {"v":1,"ts":…,"nonce":"…","from":"…","mac":"…"}              │ │ \n │ │ body │
//   └────────────────────────────────────────────────────────────────┘ └────┘ └──────┘
//
//   | field | type   | meaning                                                    |
//   |-------|--------|------------------------------------------------------------|
//   | v     | 1      | envelope version                                           |
//   | ts    | number | the sender's clock, ms since the epoch                     |
//   | nonce | string | NONCE_BYTES random bytes, base64url                        |
//   | from  | string | the sending node's name                                    |
//   | mac   | string | base64url HMAC-SHA256(K, LABEL ‖ context ‖ 0 ‖ ts ‖ 0 ‖     |
//   |       |        |                       nonce ‖ 0 ‖ from ‖ 0 ‖ body)         |
//
//   K       = HMAC-SHA256(secret, KEY_LABEL): a key of its own, so a control MAC
//             can never pass as a Networked Buffer handshake proof (engine/net/auth.ts)
//   context = what the message is for, so it cannot be replayed somewhere else:
//             a request: its NATS subject (cwasi.<cluster>.node.<name>.<verb>)
//             a reply:   "reply:" ‖ the request's nonce (only that request's reply)
//             a record:  "kv:" ‖ bucket ‖ "/" ‖ key
//
// Requests are fresh only once: `open` with `fresh` refuses a timestamp more
// than `windowMs` away from the local clock and a nonce it has already seen in
// that window. The seen-nonce cache is bounded (`maxNonces`): when it is full
// of nonces still inside the window, the oldest is dropped and every message
// stamped at or before that one's time is refused from then on, so a dropped
// nonce can never be replayed. Replies need no cache: each is bound to one
// request nonce and accepted once. Records are state, read many times; their
// freshness is the heartbeat the registry checks.
//
// What this does not do: it does not encrypt (anyone who can subscribe on NATS
// reads the messages; NATS credentials and TLS keep them out), and every holder
// of the secret can seal anything under any node name.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CwasiError } from '../errors.js';

export const NONCE_BYTES = 16;
const MAC_BYTES = 32;
const MAX_HEADER_BYTES = 1024;
const KEY_LABEL = 'cwasi control-plane key/1';
const LABEL = Buffer.from('cwasi-control/1\0', 'latin1');
const NEWLINE = 0x0a;
/** Default replay window: clocks of cluster nodes may differ by this much. */
export const DEFAULT_WINDOW_MS = 30_000;
export const DEFAULT_MAX_NONCES = 100_000;

interface Header {
  v: 1;
  ts: number;
  nonce: string;
  from: string;
  mac: string;
}

export interface Opened<T> {
  /** The sending node, as it sealed it. */
  from: string;
  nonce: string;
  ts: number;
  body: T;
}

export interface SignerOptions {
  windowMs?: number;
  maxNonces?: number;
  /** The clock (tests). */
  now?: () => number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function refuse(why: string): CwasiError {
  return new CwasiError('E_AUTH', `control message refused: ${why}`);
}

export class ControlSigner {
  private readonly key: Buffer;
  private readonly windowMs: number;
  private readonly maxNonces: number;
  private readonly now: () => number;
  /** Nonces seen inside the window, in arrival order, with their timestamps. */
  private readonly seen = new Map<string, number>();
  /** Messages stamped at or before this are refused (their nonces may have been dropped). */
  private floor = -Infinity;
  /** Messages refused so far (unauthenticated, tampered, stale or replayed). */
  refused = 0;

  constructor(secret: Uint8Array, readonly self: string, options: SignerOptions = {}) {
    this.key = createHmac('sha256', secret).update(KEY_LABEL).digest();
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.maxNonces = options.maxNonces ?? DEFAULT_MAX_NONCES;
    this.now = options.now ?? Date.now;
  }

  private mac(context: string, ts: number, nonce: string, from: string, body: Uint8Array): Buffer {
    const h = createHmac('sha256', this.key);
    h.update(LABEL);
    h.update(`${context}\0${ts}\0${nonce}\0${from}\0`);
    h.update(body);
    return h.digest();
  }

  /** Seal `body` for `context`; returns the bytes to publish and the nonce used. */
  seal(context: string, body: unknown): { data: Uint8Array; nonce: string } {
    const text = encoder.encode(JSON.stringify(body));
    const ts = this.now();
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    const header: Header = { v: 1, ts, nonce, from: this.self, mac: this.mac(context, ts, nonce, this.self, text).toString('base64url') };
    const head = encoder.encode(JSON.stringify(header));
    const data = new Uint8Array(head.length + 1 + text.length);
    data.set(head, 0);
    data[head.length] = NEWLINE;
    data.set(text, head.length + 1);
    return { data, nonce };
  }

  /**
   * Verify a sealed message for `context` and return its body. Throws E_AUTH
   * when it is not sealed with the cluster secret for this context, was
   * altered, or (with `fresh`) is outside the window or seen before. A
   * refusal is counted in `refused` unless `count` is false (the caller
   * counts it elsewhere).
   */
  open<T>(context: string, data: Uint8Array, fresh: boolean, count = true): Opened<T> {
    try {
      return this.check<T>(context, data, fresh);
    } catch (err) {
      if (count) this.refused++;
      throw err;
    }
  }

  private check<T>(context: string, data: Uint8Array, fresh: boolean): Opened<T> {
    const nl = data.subarray(0, MAX_HEADER_BYTES + 1).indexOf(NEWLINE);
    if (nl < 0) throw refuse('not sealed with the cluster secret');
    let h: Header;
    try {
      h = JSON.parse(decoder.decode(data.subarray(0, nl))) as Header;
    } catch {
      throw refuse('unreadable envelope');
    }
    if (h === null || typeof h !== 'object' || h.v !== 1 || !Number.isSafeInteger(h.ts) || typeof h.nonce !== 'string'
      || typeof h.from !== 'string' || typeof h.mac !== 'string' || h.nonce.includes('\0') || h.from.includes('\0')) {
      throw refuse('malformed envelope');
    }
    const body = data.subarray(nl + 1);
    const got = Buffer.from(h.mac, 'base64url');
    const want = this.mac(context, h.ts, h.nonce, h.from, body);
    // timingSafeEqual throws on a length mismatch; the length is public anyway.
    if (got.length !== MAC_BYTES || !timingSafeEqual(got, want)) throw refuse('bad MAC (wrong secret, altered, or meant for another subject)');
    if (fresh) this.admitFresh(h.ts, h.nonce);
    let parsed: T;
    try {
      parsed = JSON.parse(decoder.decode(body)) as T;
    } catch {
      throw refuse('body is not JSON');
    }
    return { from: h.from, nonce: h.nonce, ts: h.ts, body: parsed };
  }

  /** Replay protection: inside the window, above the floor, nonce never seen. */
  private admitFresh(ts: number, nonce: string): void {
    const now = this.now();
    if (Math.abs(now - ts) > this.windowMs) throw refuse(`timestamp ${ts} is outside the ${this.windowMs} ms window`);
    if (ts <= this.floor) throw refuse('older than the replay cache remembers');
    if (this.seen.has(nonce)) throw refuse('replayed (nonce seen before)');
    if (this.seen.size >= this.maxNonces) this.prune(now);
    this.seen.set(nonce, ts);
  }

  private prune(now: number): void {
    // Expired nonces cannot be replayed anyway (the window refuses them).
    // Arrival order is close to timestamp order: stop at the first one still inside.
    for (const [n, ts] of this.seen) {
      if (now - ts <= this.windowMs) break;
      this.seen.delete(n);
    }
    while (this.seen.size >= this.maxNonces) {
      const [n, ts] = this.seen.entries().next().value as [string, number];
      this.seen.delete(n);
      if (ts > this.floor) this.floor = ts;
    }
  }

  /** Nonces held for replay detection. */
  get remembered(): number {
    return this.seen.size;
  }
}

/** The context of a reply to the request sealed with `nonce`. */
export function replyContext(nonce: string): string {
  return `reply:${nonce}`;
}

/** The context of a registry record. */
export function recordContext(bucket: string, key: string): string {
  return `kv:${bucket}/${key}`;
}
