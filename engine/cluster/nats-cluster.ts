// Running on a NATS cluster rather than one server: the list of server URLs a
// node may connect to, the replica count of the registry's KV buckets, and the
// client's reconnect settings that let a node fail over to a surviving server.
//
// Failover, as the NATS client does it: when the server a node is connected to
// goes away, the client tries the next one of its pool (the URLs given here
// plus those the cluster advertises, so one seed URL is enough to find the
// rest once connected), resubscribes, and sends what was published meanwhile.
// A request whose reply was in flight on the lost server is lost with it: the
// registry fails such requests with E_NATS at once (retrying is safe, see
// docs/cluster.md, "A NATS cluster"), and holds new requests back until the client is
// connected again, for at most FAILOVER_GRACE_MS.

import type { ConnectionOptions } from '@nats-io/transport-node';
import { CwasiError } from '../errors.js';
import { optionError } from '../options/kinds.js';

/** The most KV replicas a bucket may ask for (JetStream's own limit). */
export const MAX_KV_REPLICAS = 5;
/** How long a request waits for the client to reconnect before it fails with E_NATS. */
export const FAILOVER_GRACE_MS = 3000;
/**
 * A request that finds no responder while its node's record is alive is sent
 * again, every NO_RESPONDERS_RETRY_MS for at most this long: the node's
 * subscription may be moving to another server. Nobody received it, so
 * sending it again runs nothing twice.
 */
export const NO_RESPONDERS_GRACE_MS = 1000;
export const NO_RESPONDERS_RETRY_MS = 50;
/** Pause before trying a server again that was just tried (the client moves to another server at once). */
export const RECONNECT_WAIT_MS = 250;
/**
 * Client pings: a server that stops answering (partitioned rather than
 * killed, so no TCP reset arrives) is given up after PING_INTERVAL_MS ×
 * MAX_PINGS_OUT, about 4 s, instead of the client's default 4 minutes.
 */
export const PING_INTERVAL_MS = 2000;
export const MAX_PINGS_OUT = 2;

const SERVER_URL = /^(?:(?:nats|tls|ws|wss):\/\/)?(?:[^\s/@]+@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?\/?$/;

/**
 * The servers named by `nats`: one URL, a comma-separated list, or an array of
 * either (what repeated `--nats` flags give). Blanks are dropped, duplicates
 * kept once; none at all, or an entry that is not a server address, is E_CONFIG.
 */
export function natsServerList(nats: string | readonly string[] | undefined): string[] {
  let given: readonly unknown[];
  if (nats === undefined) given = [];
  else if (typeof nats === 'string') given = [nats];
  else if (Array.isArray(nats)) given = nats;
  else throw new CwasiError('E_CONFIG', 'cluster.nats must be a URL string or an array of them', { option: 'cluster.nats' });
  const out: string[] = [];
  for (const item of given) {
    if (typeof item !== 'string') throw new CwasiError('E_CONFIG', `cluster.nats: ${JSON.stringify(item)} is not a URL string`, { option: 'cluster.nats' });
    for (const raw of item.split(',')) {
      const url = raw.trim();
      if (url === '') continue;
      if (!SERVER_URL.test(url)) throw new CwasiError('E_CONFIG', `cluster.nats: "${url}" is not a NATS server address (nats://host:port)`, { option: 'cluster.nats' });
      if (!out.includes(url)) out.push(url);
    }
  }
  if (out.length === 0) throw new CwasiError('E_CONFIG', 'cluster.nats names no NATS server', { option: 'cluster.nats' });
  return out;
}

/** The KV replica count: 1 unless given, an integer 1..MAX_KV_REPLICAS, else E_CONFIG. */
export function kvReplicas(n: unknown): number {
  if (n === undefined) return 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_KV_REPLICAS) {
    throw optionError('cluster.natsReplicas', `must be an integer from 1 to ${MAX_KV_REPLICAS}, got ${String(n)}`);
  }
  return n;
}

/** The client's connect options for a server pool (credentials and TLS come from nats-auth.ts). */
export function failoverOptions(servers: string[]): Partial<ConnectionOptions> {
  return {
    servers,
    // The first connect fails fast (E_NATS at start); later losses reconnect forever.
    waitOnFirstConnect: false,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    reconnectJitter: 100,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
    timeout: 3000,
  };
}

/** A JetStream error that means the replica count cannot be had here (not a server outage). */
export function isReplicaConfigError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /replicas > 1 not supported|insufficient resources|no suitable peers|replicas.*exceed/i.test(msg);
}
