// `remote-kv`: the baseline of a platform without cwasi. The producer's host
// SETs the output into Redis (with a TTL, chunked below Redis's value limit),
// the consumer's host GETs it into the consumer's memory; one key per produced
// output, deleted once every consumer has finished. Never chosen by selection;
// forced per edge for comparisons.
//
// Key layout: `<prefix>:<transfer>:<chunk index>` for an edge,
// `<prefix>:call:<call id>:<chunk index>` for a guest-call payload; chunks of
// `chunkBytes`, each with the configured TTL.
//
// Live form (live-bridge.ts): a streaming producer's chunks are SET as they
// are written, `<prefix>:<transfer>:live:<n>`, and the consumer's side polls
// for the next one, feeds it to the consumer's ring and DELetes it; the end
// is `<prefix>:<transfer>:live:end`, a JSON {chunks, total}. At most
// LIVE_KV_AHEAD chunks wait in Redis: the producer's side waits for the
// consumer's before it stores more, so Redis holds a window, not the stream.

import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { CwasiError } from '../errors.js';
import type { Heap } from '../memory/heap.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Emitter, type Endpoint, type PlaceTarget, type Produced, type Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { copyInto } from '../memory/copy.js';
import { openBridgedLive, type LiveCarry } from './live-bridge.js';
import type { RingPools } from '../ring/pools.js';

export interface RemoteKvOptions {
  url: string;
  /** Seconds a payload may live in Redis if nobody deletes it. */
  ttlSeconds: number;
  /** Largest value written in one SET (Redis refuses values over 512 MB). */
  chunkBytes: number;
  keyPrefix: string;
  /** Rings of the live form (live-bridge.ts). */
  pools: RingPools;
}

/** Chunks of a live stream that may wait in Redis for the consumer's side. */
export const LIVE_KV_AHEAD = 2;
/** How often the consumer's side polls for the next chunk when nothing told it one is there. */
const LIVE_KV_POLL_MS = 5;

/** The live form: chunk keys the consumer's side polls (see the top of this file). */
function liveChunks(options: RemoteKvOptions, edge: EdgeContext): LiveCarry {
  return async (drain, feed) => {
    let redis: RedisClient;
    try {
      redis = await redisClient(options.url);
    } catch (err) {
      throw err instanceof CwasiError ? err : redisError(options.url, err);
    }
    const key = `${options.keyPrefix}:${edge.transferId}:live`;
    const chunk = Math.min(options.chunkBytes, Math.max(64 * 1024, feed.ring.capacity >> 1));
    let stored = 0;
    let taken = 0;
    let failed = false;
    // Each side wakes the other when it moved (the consumer's side still polls Redis for the keys).
    let wakeTaker = (): void => {};
    let wakeStorer = (): void => {};
    const sleep = (ms: number, set: (wake: () => void) => void) => new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      set(() => {
        clearTimeout(t);
        resolve();
      });
    });
    const kv = async <T>(op: () => Promise<T>): Promise<T> => {
      try {
        return await op();
      } catch (err) {
        throw redisError(options.url, err);
      }
    };
    const storing = (async () => {
      const buf = Buffer.allocUnsafe(chunk);
      let fill = 0;
      const flush = async () => {
        // Bound: at most LIVE_KV_AHEAD chunks in Redis.
        while (stored - taken >= LIVE_KV_AHEAD && !failed) await sleep(1000, (w) => (wakeStorer = w));
        if (failed) throw new CwasiError('E_CHANNEL', 'live stream: the consumer side failed');
        await kv(() => redis.set(`${key}:${stored}`, buf.subarray(0, fill), 'EX', options.ttlSeconds));
        stored++;
        fill = 0;
        wakeTaker();
      };
      const total = await drain.pump(async (piece) => {
        if (feed.ring.consumerAttached) drain.attach();
        for (let off = 0; off < piece.length;) {
          const n = Math.min(chunk - fill, piece.length - off);
          buf.set(piece.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === chunk) await flush();
        }
      });
      if (fill > 0) await flush();
      await kv(() => redis.set(`${key}:end`, JSON.stringify({ chunks: stored, total }), 'EX', options.ttlSeconds));
      wakeTaker();
    })();
    const taking = (async () => {
      let received = 0;
      // Bound: each turn takes a chunk, ends, or waits; the deadline ends the feed's waits and the storer's.
      for (;;) {
        if (failed) throw new CwasiError('E_CHANNEL', 'live stream: the producer side failed');
        const [value, end] = await kv(() => redis.mgetBuffer(`${key}:${taken}`, `${key}:end`));
        if (value !== null) {
          await feed.write(value);
          received += value.length;
          await kv(() => redis.del(`${key}:${taken}`));
          taken++;
          wakeStorer();
          continue;
        }
        if (end !== null) {
          const e = JSON.parse(end.toString('utf8')) as { chunks: number; total: number };
          if (e.chunks === taken) {
            if (e.total !== received) throw new CwasiError('E_BAD_DESCRIPTOR', `live stream: ${received} bytes came through Redis where ${e.total} were sent`);
            await feed.end(received);
            return;
          }
          continue;
        }
        await sleep(LIVE_KV_POLL_MS, (w) => (wakeTaker = w));
      }
    })();
    try {
      await Promise.all([storing, taking]);
    } catch (err) {
      // Stop the other side wherever it waits: on Redis's turn, or on a ring.
      failed = true;
      wakeStorer();
      wakeTaker();
      feed.abort();
      drain.ring.abort();
      throw err;
    } finally {
      await Promise.allSettled([storing, taking]);
      // What is left of the stream in Redis (a failure mid-way; the TTL takes what this cannot).
      const left = Array.from({ length: stored - taken }, (_, i) => `${key}:${taken + i}`);
      await redis.del(...left, `${key}:end`).catch(() => {});
    }
  };
}

export const REDIS_MAX_VALUE_BYTES = 512 * 1024 * 1024;

/** One client per URL and thread, failing fast instead of queueing while Redis is down. */
const clients = new Map<string, Promise<RedisClient>>();

/** How long a command waits for a reconnecting client before failing with E_REDIS. */
const READY_WAIT_MS = 2000;

/**
 * Wait (bounded) until a reconnecting client is ready. A worker parked in
 * Atomics.wait between tasks runs no timers, so its client's reconnect attempts
 * only progress while it waits here.
 */
async function whenReady(client: RedisClient, url: string): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: CwasiError) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new CwasiError('E_REDIS', `Redis at ${redactUrl(url)} is unreachable (client ${client.status})`)), READY_WAIT_MS);
    client.on('ready', onReady);
  });
}

export async function redisClient(url: string): Promise<RedisClient> {
  let p = clients.get(url);
  if (p !== undefined) {
    const client = await p.catch(() => undefined);
    // A client that gave up for good is replaced; one that is reconnecting gets a bounded wait.
    if (client === undefined || client.status === 'end') {
      clients.delete(url);
      p = undefined;
    } else {
      await whenReady(client, url);
      return client;
    }
  }
  if (p === undefined) {
    p = (async () => {
      const { Redis } = await import('ioredis');
      const opts: RedisOptions = {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 2000,
        commandTimeout: 60000,
        // Keep reconnecting (a restarted Redis is picked up within a second);
        // while disconnected, commands fail at once instead of queueing.
        retryStrategy: (times) => Math.min(times * 100, 1000),
      };
      const client = new Redis(url, opts);
      client.on('error', () => {
        // surfaced through the failing command
      });
      try {
        await client.connect();
      } catch (err) {
        clients.delete(url);
        client.disconnect();
        throw redisError(url, err);
      }
      return client;
    })();
    clients.set(url, p);
    p.catch(() => clients.delete(url));
  }
  return p;
}

export async function closeRedisClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map(async (p) => {
    try {
      (await p).disconnect();
    } catch {
      // never connected
    }
  }));
}

/** `url` as an error message may show it: a user name stays, a password does not. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    // Not a URL the engine could parse: show nothing of what it might hold.
    return '(an unparsable Redis URL)';
  }
}

function redisError(url: string, err: unknown): CwasiError {
  return new CwasiError('E_REDIS', `Redis at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
}

function chunkKey(key: string, i: number): string {
  return `${key}:${i}`;
}

export function createRemoteKvChannel(options: RemoteKvOptions): Channel {
  if (options.chunkBytes <= 0 || options.chunkBytes > REDIS_MAX_VALUE_BYTES) {
    throw new CwasiError('E_CONFIG', `remote-kv chunkBytes must be 1..${REDIS_MAX_VALUE_BYTES}`);
  }
  const del = async (key: string, chunks: number): Promise<void> => {
    try {
      const redis = await redisClient(options.url);
      await redis.del(...Array.from({ length: chunks }, (_, i) => chunkKey(key, i)));
    } catch {
      // The TTL removes what could not be deleted.
    }
  };
  return {
    mode: 'remote-kv',
    // The client's reply buffer from Redis, then into the consumer's memory.
    copies: 2,
    chainsInOneTask: 'never',
    crossesHosts: true,
    startsConsumerEarly: 'never',
    callsRunInline: false,
    async openCall(call: CallContext): Promise<CallTransfer> {
      const p = call.payload;
      const kv = { url: options.url, key: `${options.keyPrefix}:call:${call.callId}`, ttlSeconds: options.ttlSeconds, chunkBytes: options.chunkBytes };
      const chunks = await writeOutputToKv(kv, call.callerHeap(), { ptr: p.ptr, len: p.len });
      return {
        input: { kind: 'kv', url: kv.url, key: kv.key, len: p.len, chunks },
        output: { keep: false, bytes: true },
        finish: () => del(kv.key, chunks),
      };
    },
    carriesLiveStreams: 'on-this-host',
    open(edge: EdgeContext): Transfer {
      if (edge.live === true) return openBridgedLive(options.pools, edge, liveChunks(options, edge));
      return {
        prepareOutput(output: OutputSpec): void {
          // One key per produced output, shared by all its remote-kv consumers.
          output.kv ??= { url: options.url, key: `${options.keyPrefix}:${edge.transferId}`, ttlSeconds: options.ttlSeconds, chunkBytes: options.chunkBytes };
        },
        inputFor(produced: Produced): InputSpec {
          const key = produced.kvKey;
          const chunks = produced.result.kvChunks;
          if (key === undefined || chunks === undefined) throw new CwasiError('E_INTERNAL', 'remote-kv edge: producer stored nothing');
          return { kind: 'kv', url: options.url, key, len: produced.result.outputLength, chunks };
        },
        finish(): void {
          // keys are deleted with the produced output
        },
      };
    },
    async release(produced: Produced): Promise<void> {
      // A live producer kept its output (what it returned, and any rest of its stream) in its memory.
      releaseKept(produced);
      const key = produced.kvKey;
      const chunks = produced.result.kvChunks ?? 0;
      if (key === undefined || chunks === 0) return;
      await del(key, chunks);
    },
    async close(): Promise<void> {
      await closeRedisClients();
    },
  };
}

/** Producer side: SET the output in chunks; returns the number of chunks. */
export async function writeOutputToKv(spec: NonNullable<OutputSpec['kv']>, heap: Heap, out: { ptr: number; len: number }): Promise<number> {
  let redis: RedisClient;
  try {
    redis = await redisClient(spec.url);
  } catch (err) {
    throw err instanceof CwasiError ? err : redisError(spec.url, err);
  }
  const chunks = Math.max(1, Math.ceil(out.len / spec.chunkBytes));
  const bytes = heap.bytes();
  const pipeline = redis.pipeline();
  for (let i = 0; i < chunks; i++) {
    const start = out.ptr + i * spec.chunkBytes;
    const end = Math.min(out.ptr + out.len, start + spec.chunkBytes);
    // A Buffer view over the shared memory: the socket write copies it out.
    pipeline.set(chunkKey(spec.key, i), Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start), 'EX', spec.ttlSeconds);
  }
  try {
    const results = await pipeline.exec();
    for (const [err] of results ?? []) if (err) throw err;
  } catch (err) {
    throw redisError(spec.url, err);
  }
  return chunks;
}

/** Producer side of the channel for the worker: SET the output, record the chunk count. */
export const kvEmitter: Emitter = {
  wants: (output) => output.kv !== undefined,
  async emit(output, src, result) {
    result.kvChunks = await writeOutputToKv(output.kv!, src.heap, src);
  },
};

/** Consumer side: GET every chunk into the target memory. */
export const kvEndpoint: Endpoint<'kv'> = {
  kind: 'kv',
  async place(spec, target: PlaceTarget) {
    if (target.maxPayloadBytes > 0 && spec.len > target.maxPayloadBytes) {
      throw new CwasiError('E_PAYLOAD_TOO_LARGE', `input of ${spec.len} bytes exceeds the limit of ${target.maxPayloadBytes}`);
    }
    const redis = await redisClient(spec.url);
    const dst = target.heap.allocIn(target.arena, spec.len);
    let off = 0;
    for (let i = 0; i < spec.chunks; i++) {
      let value: Buffer | null;
      try {
        value = await redis.getBuffer(chunkKey(spec.key, i));
      } catch (err) {
        throw redisError(spec.url, err);
      }
      if (value === null) throw new CwasiError('E_REDIS', `remote-kv key ${chunkKey(spec.key, i)} is missing (expired or deleted)`);
      if (off + value.length > spec.len) throw new CwasiError('E_BAD_DESCRIPTOR', `remote-kv chunk ${i} overruns the ${spec.len}-byte payload`);
      copyInto(target.heap.bytes(), dst + off, value);
      off += value.length;
    }
    if (off !== spec.len) throw new CwasiError('E_BAD_DESCRIPTOR', `remote-kv payload has ${off} bytes, ${spec.len} expected`);
    return { ptr: dst, len: spec.len };
  },
};
