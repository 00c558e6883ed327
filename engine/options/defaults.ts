// Every default of the engine's options, once. Frozen to the leaves: a caller
// that changed one would change it for every engine of the process.
//
// A default that depends on the machine or the process (threads: the cores;
// cluster.name: <hostname>-<pid>; redis.url: REDIS_URL) is computed where the
// option is resolved (resolve.ts) and described in spec.ts.

type DeepReadonly<T> = { readonly [K in keyof T]: T[K] extends object ? DeepReadonly<T[K]> : T[K] };

/** Freezes `o` and every object inside it. */
export function deepFreeze<T extends object>(o: T): DeepReadonly<T> {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) deepFreeze(v as object);
  return Object.freeze(o) as DeepReadonly<T>;
}

/** The Networked Buffer transport's (engine/net/transport.ts); a cluster's preAuth defaults are these. */
const net = {
  port: 0,
  handshakeTimeoutMs: 5000,
  preAuthTimeoutMs: 2000,
  maxStreamBytes: 2 ** 32,
  keepaliveIntervalMs: 1000,
  keepaliveTimeoutMs: 5000,
  maxBufferedBytes: 8 * 2 ** 20,
  maxPendingHandshakes: 64,
  maxPendingPerAddress: 8,
  maxIncomingStreams: 1024,
};

/** `defaults` with every value `given` has (a key given as undefined keeps its default). */
export function filled<T extends object>(defaults: T, given: { [K in keyof T]?: T[K] | undefined } | undefined): { -readonly [K in keyof T]: T[K] } {
  const out = { ...defaults };
  if (given !== undefined) for (const k of Object.keys(defaults) as Array<keyof T>) if (given[k] !== undefined) out[k] = given[k] as T[keyof T];
  return out;
}

export const OPTION_DEFAULTS = deepFreeze({
  /** Engine.create(options) */
  engine: {
    maxQueue: 4096,
    maxPayloadBytes: 2 ** 30,
    memoryMaxBytes: 2 ** 31,
    timeoutMs: 60_000,
    hostName: 'local',
    directInputBytes: 2 ** 20,
    callLane: true,
    local: { transport: 'descriptor' as 'descriptor' | 'stream', ringBytes: 2 ** 20, sameWorker: true },
    redis: { url: 'redis://127.0.0.1:6379', ttlSeconds: 300, chunkBytes: 16 * 2 ** 20 },
    cluster: {
      natsReplicas: 1,
      cluster: 'default',
      listen: '127.0.0.1:0',
      heartbeatMs: 1000,
      preAuth: { perAddress: net.maxPendingPerAddress, total: net.maxPendingHandshakes, timeoutMs: net.preAuthTimeoutMs },
    },
    guestCalls: { maxDepth: 16, maxInFlightPerInvocation: 256, maxInFlight: 1024 },
  },
  /** engine.map(target, inputs, options) */
  map: { ordered: true, onError: 'continue' as 'continue' | 'stop', retries: 0, retryDelayMs: 100 },
  /** engine.close(options) */
  close: { force: false },
  net,
});

/** Guest-call limits as the engine and its workers apply them. */
export type GuestCallLimits = { -readonly [K in keyof typeof OPTION_DEFAULTS.engine.guestCalls]: number };
