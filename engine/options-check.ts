// Checks of the numeric and enumerated EngineOptions, made by Engine.create
// before anything starts. Without them a value such as `timeoutMs: NaN` or
// `maxPayloadBytes: NaN` passed every later comparison and silently switched
// the deadline or the payload limit off, and a bad ring size or memory cap
// surfaced only at a deploy or an invocation, far from its cause.

import { CwasiError } from './errors.js';
import type { EngineOptions } from './engine.js';
import { MAX_RING_BYTES, MIN_RING_BYTES } from './ring/ring.js';

/** The options this module checks. */
type CheckedOptions = Pick<EngineOptions, 'maxPayloadBytes' | 'memoryMaxBytes' | 'timeoutMs' | 'directInputBytes' | 'local' | 'redis'>;

const GiB = 2 ** 30;
/** A wasm32 memory addresses at most 4 GiB. */
const MAX_MEMORY_BYTES = 4 * GiB;
/** The per-function bound of the deployment schema (workflow/schema.ts). */
const MIN_MEMORY_BYTES = 1 << 20;
/** Redis refuses a string value over 512 MB. */
const MAX_REDIS_CHUNK_BYTES = 512 * (1 << 20);

function wholeIn(name: string, v: unknown, min: number, max: number, unit: string): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new CwasiError('E_CONFIG', `${name} must be a whole number of ${unit} from ${min} to ${max}, got ${String(v)}`);
  }
}

/**
 * The keys each options object takes. A misspelt key (`thread` for
 * `threads`) would otherwise be ignored without a word, leaving the default
 * the caller meant to change.
 */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': ['threads', 'maxQueue', 'maxPayloadBytes', 'memoryMaxBytes', 'timeoutMs', 'functionsDir', 'hostName', 'local', 'redis', 'directInputBytes', 'cluster', 'guestCalls'],
  'threads': ['min', 'max'],
  'local': ['transport', 'ringBytes', 'sameWorker'],
  'redis': ['url', 'ttlSeconds', 'chunkBytes'],
  'cluster': ['nats', 'natsReplicas', 'natsAuth', 'cluster', 'name', 'listen', 'secret', 'secretFile', 'tls', 'heartbeatMs', 'staleMs', 'preAuth'],
  'cluster.preAuth': ['perAddress', 'total', 'timeoutMs'],
  'guestCalls': ['maxDepth', 'maxInFlightPerInvocation', 'maxInFlight'],
  // engine.close(options)
  'close': ['timeoutMs', 'force'],
};

/** Edit distance between two short names (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** E_CONFIG for the first key of `o` (and of its nested option objects) that no option has, naming the nearest that does. */
export function checkKnownKeys(o: unknown, path = ''): void {
  const known = KNOWN_KEYS[path];
  if (known === undefined || o === null || typeof o !== 'object' || Array.isArray(o)) return;
  for (const key of Object.keys(o)) {
    const name = path === '' ? key : `${path}.${key}`;
    if (!known.includes(key)) {
      const nearest = [...known].sort((x, y) => distance(key, x) - distance(key, y))[0];
      const hint = nearest !== undefined && distance(key, nearest) <= Math.max(2, key.length >> 2) ? `; did you mean ${path === '' ? nearest : `${path}.${nearest}`}?` : '';
      throw new CwasiError('E_CONFIG', `unknown option ${name}${hint} (the options: ${known.join(', ')})`, { option: name, ...(hint ? { nearest } : {}) });
    }
    checkKnownKeys((o as Record<string, unknown>)[key], name);
  }
}

/** Throws E_CONFIG naming the first option that is out of range or of the wrong kind, or unknown. */
export function checkEngineOptions(o: CheckedOptions): void {
  checkKnownKeys(o);
  if (o.maxPayloadBytes !== undefined) wholeIn('maxPayloadBytes', o.maxPayloadBytes, 1, MAX_MEMORY_BYTES, 'bytes');
  if (o.memoryMaxBytes !== undefined) wholeIn('memoryMaxBytes', o.memoryMaxBytes, MIN_MEMORY_BYTES, MAX_MEMORY_BYTES, 'bytes');
  if (o.timeoutMs !== undefined) checkDefaultTimeout(o.timeoutMs);
  const direct = o.directInputBytes;
  if (direct !== undefined && direct !== Number.POSITIVE_INFINITY) wholeIn('directInputBytes', direct, 0, Number.MAX_SAFE_INTEGER, 'bytes (or Infinity)');
  const local = o.local;
  if (local !== undefined) {
    if (local.transport !== undefined && local.transport !== 'descriptor' && local.transport !== 'stream') {
      throw new CwasiError('E_CONFIG', `local.transport must be 'descriptor' or 'stream', got ${JSON.stringify(local.transport)}`);
    }
    if (local.ringBytes !== undefined) wholeIn('local.ringBytes', local.ringBytes, MIN_RING_BYTES, MAX_RING_BYTES, 'bytes');
    if (local.sameWorker !== undefined && typeof local.sameWorker !== 'boolean') {
      throw new CwasiError('E_CONFIG', `local.sameWorker must be true or false, got ${String(local.sameWorker)}`);
    }
  }
  const redis = o.redis;
  if (redis?.ttlSeconds !== undefined) wholeIn('redis.ttlSeconds', redis.ttlSeconds, 1, Number.MAX_SAFE_INTEGER, 'seconds');
  if (redis?.chunkBytes !== undefined) wholeIn('redis.chunkBytes', redis.chunkBytes, 1, MAX_REDIS_CHUNK_BYTES, 'bytes');
}

/** The engine's default deadline in milliseconds: a positive number, or Infinity for none. */
function checkDefaultTimeout(v: unknown): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) {
    throw new CwasiError('E_CONFIG', `timeoutMs must be a positive number of milliseconds (or Infinity for none), got ${String(v)}`);
  }
}

/**
 * One invocation's deadline: any number (one already spent, zero or less,
 * fails that invocation with E_TIMEOUT), but a number: NaN would be no deadline.
 */
export function checkInvocationTimeout(v: unknown): void {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new CwasiError('E_CONFIG', `timeoutMs must be a number of milliseconds (or Infinity for none), got ${String(v)}`);
  }
}
