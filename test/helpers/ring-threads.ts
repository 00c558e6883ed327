// Fixtures for the ring tests (test/ring-*.test.ts): a seeded byte stream
// that any thread can address by stream position, the roles a thread can play
// against a ring (each an ordinary function, run on the main thread or in a
// real worker), and spawnRole() that runs one role in a worker thread.
//
// The stream: byte p of the stream for `seed` is table[p mod PERIOD], where
// the table holds PERIOD seeded random bytes twice over so that any window of
// up to PERIOD bytes is one contiguous slice (compared with memcmp). PERIOD
// is prime, so no ring capacity (a power of two) divides it: a byte delivered
// a whole number of ring laps early or late is a different byte.

import { Worker } from 'node:worker_threads';
import {
  DESC_BYTES, FRAME_DATA, FRAME_DESC, FRAME_HEADER_BYTES, RING, Ring, type WaitOutcome,
} from '../../engine/ring/ring.js';
import { bytesEqual, prng } from './env.js';

export const PERIOD = 1_048_573;

const tables = new Map<number, Uint8Array>();

/** The stream table for `seed` (2 × PERIOD bytes, cached per thread). */
export function streamTable(seed: number): Uint8Array {
  let t = tables.get(seed);
  if (t !== undefined) return t;
  t = new Uint8Array(2 * PERIOD);
  const rnd = prng(seed);
  for (let i = 0; i < PERIOD; i++) t[i] = (rnd() * 256) | 0;
  t.copyWithin(PERIOD, 0, PERIOD);
  tables.set(seed, t);
  return t;
}

/** Bytes [pos, pos + n) of the stream (n ≤ PERIOD). A view, not a copy. */
export function streamAt(table: Uint8Array, pos: number, n: number): Uint8Array {
  if (n > PERIOD) throw new RangeError(`stream window of ${n} bytes exceeds the period`);
  const at = pos % PERIOD;
  return table.subarray(at, at + n);
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (bytesEqual(a, b)) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A chunk size for one write or read: mostly small or up to one ring, some up
 * to three rings (those stream through in pieces), now and then zero.
 */
export function chunkSize(rnd: () => number, capacity: number): number {
  const r = rnd();
  if (r < 0.02) return 0;
  if (r < 0.3) return 1 + Math.floor(rnd() * 64);
  if (r < 0.8) return 1 + Math.floor(rnd() * capacity);
  return 1 + Math.floor(rnd() * 3 * capacity);
}

/** Set HEAD and TAIL (u32 stream positions) before any traffic, e.g. just below 2^32. */
export function setIndices(ring: Ring, head: number, tail: number): void {
  const i32 = new Int32Array(ring.buffer, 0, 64);
  Atomics.store(i32, RING.TAIL >> 2, tail | 0);
  Atomics.store(i32, RING.HEAD >> 2, head | 0);
}

export function indices(ring: Ring): { head: number; tail: number } {
  const i32 = new Int32Array(ring.buffer, 0, 64);
  return { head: Atomics.load(i32, RING.HEAD >> 2) >>> 0, tail: Atomics.load(i32, RING.TAIL >> 2) >>> 0 };
}

/** Keep the event loop alive while the main thread awaits `Atomics.waitAsync` (a pending wait does not, DESIGN §4). */
export function keepAlive(): () => void {
  const timer = setInterval(() => {}, 1 << 30);
  return () => clearInterval(timer);
}

// ── streams of bytes ─────────────────────────────────────────────────────

export type Mode = 'blocking' | 'async';

export interface StreamArgs {
  sab: SharedArrayBuffer;
  /** Seed of the stream table. */
  seed: number;
  /** Seed of this side's chunk sizes (the two sides use different ones). */
  chunkSeed: number;
  total: number;
  timeoutMs: number;
  mode: Mode;
}

export interface StreamResult {
  /** Bytes moved before the outcome. */
  bytes: number;
  outcome: WaitOutcome;
  /** Reader only: stream position of the first wrong byte, or -1. */
  mismatchAt: number;
  chunks: number;
  ms: number;
  /** Longest single write/read call: a lost wake-up shows as a stall of ~100 ms (the ring's longest sleep). */
  longestCallMs: number;
}

/** Producer: write `total` bytes of the stream in random chunks. */
export async function writeStream(a: StreamArgs): Promise<StreamResult> {
  const ring = new Ring(a.sab);
  const table = streamTable(a.seed);
  const rnd = prng(a.chunkSeed);
  const deadline = Date.now() + a.timeoutMs;
  const started = now();
  let pos = 0;
  let chunks = 0;
  let longest = 0;
  while (pos < a.total) {
    const n = Math.min(chunkSize(rnd, ring.capacity), a.total - pos);
    const src = streamAt(table, pos, n);
    const t = now();
    let written: number;
    let outcome: WaitOutcome;
    if (a.mode === 'blocking') {
      const r = ring.write(src, deadline);
      written = r.written;
      outcome = r.outcome as WaitOutcome;
    } else {
      outcome = await ring.writeAsync(src, deadline);
      written = outcome === 'ok' ? n : 0;
    }
    longest = Math.max(longest, now() - t);
    chunks++;
    pos += written;
    if (outcome !== 'ok') return { bytes: pos, outcome, mismatchAt: -1, chunks, ms: now() - started, longestCallMs: longest };
  }
  return { bytes: pos, outcome: 'ok', mismatchAt: -1, chunks, ms: now() - started, longestCallMs: longest };
}

/** Consumer: read `total` bytes in random chunks and compare every byte with the stream. */
export async function readStream(a: StreamArgs): Promise<StreamResult> {
  const ring = new Ring(a.sab);
  ring.attachConsumer();
  const table = streamTable(a.seed);
  const rnd = prng(a.chunkSeed);
  const deadline = Date.now() + a.timeoutMs;
  const dst = new Uint8Array(3 * ring.capacity + 1);
  const started = now();
  let pos = 0;
  let chunks = 0;
  let longest = 0;
  let mismatchAt = -1;
  while (pos < a.total) {
    const n = Math.min(chunkSize(rnd, ring.capacity), a.total - pos);
    const into = dst.subarray(0, n);
    const t = now();
    const r = a.mode === 'blocking' ? ring.read(into, deadline) : await ring.readAsync(into, deadline);
    longest = Math.max(longest, now() - t);
    chunks++;
    const bad = firstDifference(into.subarray(0, r.read), streamAt(table, pos, r.read));
    if (bad >= 0 && mismatchAt < 0) mismatchAt = pos + bad;
    pos += r.read;
    if (r.outcome !== 'ok') return { bytes: pos, outcome: r.outcome, mismatchAt, chunks, ms: now() - started, longestCallMs: longest };
  }
  return { bytes: pos, outcome: 'ok', mismatchAt, chunks, ms: now() - started, longestCallMs: longest };
}

// ── streams of frames ────────────────────────────────────────────────────

export interface PlannedFrame {
  type: typeof FRAME_DATA | typeof FRAME_DESC;
  /** DATA: payload bytes (taken from the stream at `pos`); DESC: the descriptor's len. */
  length: number;
  aux: number;
  pos: number;
  source: number;
  generation: number;
}

/** The frames both sides expect, derived from one seed: DATA of 0..maxPayload bytes and DESC frames. */
export function planFrames(seed: number, count: number, maxPayload: number): PlannedFrame[] {
  const rnd = prng(seed);
  const frames: PlannedFrame[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const desc = rnd() < 0.2;
    const r = rnd();
    const length = r < 0.1 ? 0 : r < 0.2 ? maxPayload : Math.floor(rnd() * (maxPayload + 1));
    const u32 = () => (rnd() * 2 ** 32) >>> 0;
    frames.push({ type: desc ? FRAME_DESC : FRAME_DATA, length, aux: u32(), pos, source: u32(), generation: u32() });
    if (!desc) pos += length;
  }
  return frames;
}

export interface FrameArgs {
  sab: SharedArrayBuffer;
  seed: number;
  count: number;
  maxPayload: number;
  timeoutMs: number;
}

export interface FrameResult {
  frames: number;
  bytes: number;
  outcome: WaitOutcome | 'yielded';
  /** Reader only: first frame whose header, payload or descriptor was wrong, with what was wrong. */
  firstError: string | null;
}

/** Producer: each frame written whole with waitForSpace + writeFrame / tryWriteDescriptor (the streamOut pattern). */
export function writeFrames(a: FrameArgs): FrameResult {
  const ring = new Ring(a.sab);
  const table = streamTable(a.seed);
  const deadline = Date.now() + a.timeoutMs;
  let bytes = 0;
  const plan = planFrames(a.seed, a.count, a.maxPayload);
  for (let i = 0; i < plan.length; i++) {
    const f = plan[i]!;
    const need = FRAME_HEADER_BYTES + (f.type === FRAME_DATA ? f.length : DESC_BYTES);
    const outcome = ring.waitForSpace(need, deadline);
    if (outcome !== 'ok') return { frames: i, bytes, outcome, firstError: null };
    const fitted = f.type === FRAME_DATA
      ? ring.writeFrame(FRAME_DATA, f.aux, streamAt(table, f.pos, f.length))
      : ring.tryWriteDescriptor({ source: f.source, generation: f.generation, ptr: f.pos, len: f.length }, f.aux);
    if (!fitted) {
      ring.abort();
      return { frames: i, bytes, outcome: 'ok', firstError: `frame ${i} did not fit after waitForSpace(${need}) returned ok` };
    }
    bytes += need;
  }
  return { frames: plan.length, bytes, outcome: 'ok', firstError: null };
}

/** Consumer: readHeader, then read the payload or readDescriptor; every field and byte checked. */
export function readFrames(a: FrameArgs): FrameResult {
  const ring = new Ring(a.sab);
  ring.attachConsumer();
  const table = streamTable(a.seed);
  const deadline = Date.now() + a.timeoutMs;
  const payload = new Uint8Array(a.maxPayload);
  const plan = planFrames(a.seed, a.count, a.maxPayload);
  let bytes = 0;
  // A wrong frame ends the transfer: abort so that the producer does not wait out its deadline.
  const wrong = (frames: number, firstError: string): FrameResult => {
    ring.abort();
    return { frames, bytes, outcome: 'ok', firstError };
  };
  for (let i = 0; i < plan.length; i++) {
    const f = plan[i]!;
    let h;
    try {
      h = ring.readHeader(deadline);
    } catch (e) {
      return wrong(i, `frame ${i}: ${(e as Error).message}`);
    }
    if (typeof h === 'string') return { frames: i, bytes, outcome: h, firstError: null };
    const wantLength = f.type === FRAME_DATA ? f.length : DESC_BYTES;
    if (h.type !== f.type || h.length !== wantLength || h.seq !== i || h.aux !== f.aux) {
      return wrong(i, `frame ${i}: header ${JSON.stringify(h)}, expected type ${f.type} length ${wantLength} seq ${i} aux ${f.aux}`);
    }
    if (f.type === FRAME_DATA) {
      const into = payload.subarray(0, f.length);
      const r = ring.read(into, deadline);
      if (r.outcome !== 'ok') return { frames: i, bytes, outcome: r.outcome, firstError: null };
      const bad = firstDifference(into, streamAt(table, f.pos, f.length));
      if (bad >= 0) return wrong(i, `frame ${i}: payload byte ${bad} of ${f.length} differs`);
    } else {
      const d = ring.readDescriptor(deadline);
      if (typeof d === 'string') return { frames: i, bytes, outcome: d, firstError: null };
      if (d.source !== f.source || d.generation !== f.generation || d.ptr !== f.pos || d.len !== f.length) {
        return wrong(i, `frame ${i}: descriptor ${JSON.stringify(d)} differs from ${JSON.stringify(f)}`);
      }
    }
    bytes += FRAME_HEADER_BYTES + wantLength;
  }
  return { frames: plan.length, bytes, outcome: 'ok', firstError: null };
}

// ── blocking, aborting, closing ──────────────────────────────────────────

export interface BlockedResult {
  outcome: WaitOutcome;
  /** Bytes the blocked call moved. */
  bytes: number;
  /** When the call started waiting / returned (now()). */
  startedAt: number;
  returnedAt: number;
}

/** Fill the ring, then write 1 KiB more: blocks until the consumer side frees space, aborts, or the deadline passes. */
export function blockedWrite(a: { sab: SharedArrayBuffer; timeoutMs: number }): BlockedResult {
  const ring = new Ring(a.sab);
  const filler = new Uint8Array(ring.capacity).fill(0x3c);
  while (ring.tryWrite(filler) > 0);
  const startedAt = now();
  const r = ring.write(new Uint8Array(1024), Date.now() + a.timeoutMs);
  return { outcome: r.outcome as WaitOutcome, bytes: r.written, startedAt, returnedAt: now() };
}

/** Read 1 KiB from the ring: blocks until data, close, abort or the deadline. */
export function blockedRead(a: { sab: SharedArrayBuffer; timeoutMs: number; bytes?: number }): BlockedResult {
  const ring = new Ring(a.sab);
  ring.attachConsumer();
  const startedAt = now();
  const r = ring.read(new Uint8Array(a.bytes ?? 1024), Date.now() + a.timeoutMs);
  return { outcome: r.outcome, bytes: r.read, startedAt, returnedAt: now() };
}

/**
 * Wait (spinning on the flag) until the other side sleeps in the ring — its
 * PRODUCER_WAITING or CONSUMER_WAITING flag is 1 — then abort or close the
 * ring. Returns when it acted (now()).
 */
export function actWhenWaiting(a: { sab: SharedArrayBuffer; sleeper: 'producer' | 'consumer'; act: 'abort' | 'close'; timeoutMs: number }): { at: number } {
  const ring = new Ring(a.sab);
  const i32 = new Int32Array(a.sab, 0, 64);
  const flag = (a.sleeper === 'producer' ? RING.PRODUCER_WAITING : RING.CONSUMER_WAITING) >> 2;
  const deadline = Date.now() + a.timeoutMs;
  while (Atomics.load(i32, flag) !== 1) {
    if (Date.now() > deadline) throw new Error(`the ${a.sleeper} never slept in the ring`);
  }
  const at = now();
  if (a.act === 'abort') ring.abort();
  else ring.close();
  return { at };
}

/**
 * Rounds of "write n bytes, close()": the producer waits for round r to open
 * (ctl[0] === r), the consumer reads until 'closed', checks it got all n
 * bytes, resets the ring and opens round r + 1.
 */
export interface CloseRoundArgs {
  sab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  rounds: number;
  timeoutMs: number;
}

export function roundBytes(r: number): number {
  return 1 + ((r * 7) % 61);
}

export function closeRoundsProducer(a: CloseRoundArgs): { rounds: number } {
  const ring = new Ring(a.sab);
  const ctl = new Int32Array(a.ctl);
  const src = new Uint8Array(64);
  const deadline = Date.now() + a.timeoutMs;
  for (let r = 0; r < a.rounds; r++) {
    while (Atomics.load(ctl, 0) !== r) {
      if (Date.now() > deadline) throw new Error(`round ${r} never opened`);
    }
    src.fill(r & 0xff);
    const w = ring.write(src.subarray(0, roundBytes(r)), deadline);
    if (w.outcome !== 'ok') throw new Error(`round ${r}: write ${w.outcome}`);
    ring.close();
  }
  return { rounds: a.rounds };
}

export interface CloseRoundResult {
  rounds: number;
  /** Rounds that ended 'closed' with fewer bytes than were written before close(). */
  short: number;
  firstShort: string | null;
}

export async function closeRoundsConsumer(a: CloseRoundArgs & { mode: Mode }): Promise<CloseRoundResult> {
  const ring = new Ring(a.sab);
  const ctl = new Int32Array(a.ctl);
  const dst = new Uint8Array(128);
  const deadline = Date.now() + a.timeoutMs;
  let short = 0;
  let firstShort: string | null = null;
  for (let r = 0; r < a.rounds; r++) {
    const want = roundBytes(r);
    const got = a.mode === 'blocking' ? ring.read(dst, deadline) : await ring.readAsync(dst, deadline);
    if (got.outcome !== 'closed') throw new Error(`round ${r}: read ended ${got.outcome} after ${got.read} bytes`);
    if (got.read !== want || dst.subarray(0, want).some((b) => b !== (r & 0xff))) {
      short++;
      firstShort ??= `round ${r}: 'closed' after ${got.read} of ${want} bytes, ${ring.used} still in the ring`;
    }
    ring.reset();
    Atomics.store(ctl, 0, r + 1);
  }
  return { rounds: a.rounds, short, firstShort };
}

/** read / readAsync on whatever the ring holds; for rings with corrupt indices. */
export async function readWithDeadline(a: { sab: SharedArrayBuffer; timeoutMs: number; mode: Mode }): Promise<BlockedResult> {
  const ring = new Ring(a.sab);
  const startedAt = now();
  const dst = new Uint8Array(16);
  const r = a.mode === 'blocking' ? ring.read(dst, Date.now() + a.timeoutMs) : await ring.readAsync(dst, Date.now() + a.timeoutMs);
  return { outcome: r.outcome, bytes: r.read, startedAt, returnedAt: now() };
}

// ── wake-up latency ──────────────────────────────────────────────────────

export interface PingPongArgs {
  /** ping → pong ring and pong → ping ring. */
  there: SharedArrayBuffer;
  back: SharedArrayBuffer;
  rounds: number;
  /** Message bytes; capacity + 1 makes each writer block for space and each reader block for data, every round. */
  size: number;
  /** Give up (returning the rounds done) after this long: a missing wake-up costs the ring's 100 ms sleep per round. */
  budgetMs: number;
  mode: Mode;
}

export interface PingPongResult {
  rounds: number;
  /** ping side: round-trip times. */
  medianMs: number;
  maxMs: number;
  firstError: string | null;
}

/** One side of a ping-pong over two rings; each message's bytes name its round. */
export async function pingPong(a: PingPongArgs & { side: 'ping' | 'pong' }): Promise<PingPongResult> {
  const out = new Ring(a.side === 'ping' ? a.there : a.back);
  const inn = new Ring(a.side === 'ping' ? a.back : a.there);
  inn.attachConsumer();
  const msg = new Uint8Array(a.size);
  const got = new Uint8Array(a.size);
  const deadline = Date.now() + a.budgetMs;
  const times: number[] = [];
  const send = async (): Promise<WaitOutcome> => (a.mode === 'blocking' ? (out.write(msg, deadline).outcome as WaitOutcome) : out.writeAsync(msg, deadline));
  const receive = async (): Promise<WaitOutcome> => (a.mode === 'blocking' ? inn.read(got, deadline).outcome : (await inn.readAsync(got, deadline)).outcome);
  const done = (rounds: number, firstError: string | null): PingPongResult => {
    if (firstError !== null) {
      out.abort();
      inn.abort();
    }
    const sorted = times.sort((x, y) => x - y);
    return { rounds, medianMs: sorted[sorted.length >> 1] ?? NaN, maxMs: sorted[sorted.length - 1] ?? NaN, firstError };
  };
  for (let r = 0; r < a.rounds; r++) {
    const t = now();
    if (a.side === 'ping') {
      msg.fill(r & 0xff);
      const s = await send();
      if (s !== 'ok') return done(r, `round ${r}: send ${s}`);
    }
    const g = await receive();
    if (g !== 'ok') return done(r, `round ${r}: receive ${g}`);
    if (got.some((b) => b !== (r & 0xff))) return done(r, `round ${r}: wrong bytes`);
    if (a.side === 'pong') {
      msg.fill(r & 0xff);
      const s = await send();
      if (s !== 'ok') return done(r, `round ${r}: send ${s}`);
    } else {
      times.push(now() - t);
    }
  }
  return done(a.rounds, null);
}

// ── running a role in a worker ───────────────────────────────────────────

const ROLES = {
  writeStream, readStream, writeFrames, readFrames, blockedWrite, blockedRead, actWhenWaiting,
  closeRoundsProducer, closeRoundsConsumer, readWithDeadline, pingPong,
};

export type RoleName = keyof typeof ROLES;
type RoleArgs<K extends RoleName> = Parameters<(typeof ROLES)[K]>[0];
type RoleResult<K extends RoleName> = Awaited<ReturnType<(typeof ROLES)[K]>>;

/** Worker side: run one role (called by the bootstrap below). */
export async function runRole(name: RoleName, args: unknown): Promise<unknown> {
  const fn = ROLES[name] as (a: unknown) => unknown;
  return fn(args);
}

// The worker's whole script: import this module (compiled, beside the
// compiled ring) by the URL it was given and run the named role.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module)
  .then((m) => m.runRole(workerData.role, workerData.args))
  .then((result) => parentPort.postMessage({ ok: true, result }),
        (e) => parentPort.postMessage({ ok: false, error: String((e && e.stack) || e) }));
`;

export interface Running<T> {
  worker: Worker;
  /** The role's return value; rejects if it threw or the worker died. */
  result: Promise<T>;
}

/** Start `role` in a new worker thread. */
export function spawnRole<K extends RoleName>(role: K, args: RoleArgs<K>): Running<RoleResult<K>> {
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { module: import.meta.url, role, args } });
  const result = new Promise<RoleResult<K>>((resolve, reject) => {
    let settled = false;
    worker.once('message', (m: { ok: boolean; result?: RoleResult<K>; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result as RoleResult<K>);
      else reject(new Error(`worker role ${role} failed: ${m.error}`));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`worker role ${role} exited (${code}) without a result`));
    });
  });
  return { worker, result };
}

/** `p`, or a rejection after `ms` (then `onTimeout` runs, e.g. to terminate a stuck worker). */
export function within<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no result after ${ms} ms`));
    }, ms);
  });
  return Promise.race([p, expiry]).finally(() => clearTimeout(timer));
}
