// Where `cwasi bench networked` runs its two nodes, Redis and the two-process
// references: on loopback addresses of this host (the default), or in three
// network namespaces joined by veth pairs on a bridge (`--netns`, netns.ts;
// `--link RATE` shapes every link). The bench asks its sites for addresses,
// command prefixes and notes, and never which kind it has.

import type { LinkRate } from 'cwasi/primitives';
import type { ClusterHarnessOptions } from './cluster-harness.js';
import type { Ends } from './net-ref.js';
import { LOOPBACK_ENDS } from './net-ref.js';
import { openTopology } from './netns.js';

export const PRODUCER_NODE = 'bench-b';
export const CONSUMER_NODE = 'bench-c';

export interface Sites {
  /** The producer's node's place and the consumer's, for the two-process references. */
  ends: Ends;
  /** What the cluster harness needs to start the two nodes there. */
  harness: Pick<ClusterHarnessOptions, 'nodes' | 'wrapFor' | 'env'> & { nats?: string };
  /** The coordinator's Networked Buffer listener, where the nodes can reach it (default: loopback). */
  coordinatorListen: string | undefined;
  /** Redis for remote-kv (default: REDIS_URL or the local one). */
  redisUrl: string | undefined;
  /** Where Redis runs, for the remote-kv goal's name (undefined: the usual place). */
  redisWhere: string | undefined;
  /** The link rate, where links are shaped. */
  link: LinkRate | undefined;
  /** Where each end ran (the references' ends and the iperf3 note). */
  where: string;
  /** Whether the one-process loopback rows (raw-tcp, transport) compare like for like with the node rows. */
  loopbackComparable: boolean;
  /** A line for the log once the sites are up (what was made), if anything was. */
  opened: string | undefined;
  meta: Record<string, unknown>;
  notes: string[];
  close(): Promise<void>;
}

export function loopbackSites(): Sites {
  return {
    ends: LOOPBACK_ENDS,
    harness: { nodes: [{ name: PRODUCER_NODE, host: LOOPBACK_ENDS.send.host }, { name: CONSUMER_NODE, host: LOOPBACK_ENDS.recv.host }] },
    coordinatorListen: undefined,
    redisUrl: undefined,
    redisWhere: undefined,
    link: undefined,
    where: `on loopback (${LOOPBACK_ENDS.send.host} → ${LOOPBACK_ENDS.recv.host})`,
    loopbackComparable: true,
    opened: undefined,
    meta: { nodes: [`${PRODUCER_NODE}@${LOOPBACK_ENDS.send.host}`, `${CONSUMER_NODE}@${LOOPBACK_ENDS.recv.host}`] },
    notes: ['networked and remote-kv rows: producer on one node process, consumer on another; raw-tcp-2proc: a sender process and this one; raw-tcp and transport: one process, loopback'],
    close: async () => {},
  };
}

/** The namespace topology (E_NETNS_UNAVAILABLE when it cannot be had); `onInterrupt` runs first on Ctrl-C. */
export async function netnsSites(link: LinkRate | undefined, onInterrupt: () => void): Promise<Sites> {
  const t = await openTopology({ ...(link !== undefined ? { link } : {}), onInterrupt });
  const wraps: Record<string, string[]> = { [PRODUCER_NODE]: t.a.wrap, [CONSUMER_NODE]: t.b.wrap };
  return {
    ends: { send: { host: t.a.ip, wrap: t.a.wrap }, recv: { host: t.b.ip, wrap: t.b.wrap } },
    harness: {
      nats: t.nats,
      nodes: [{ name: PRODUCER_NODE, host: t.a.ip }, { name: CONSUMER_NODE, host: t.b.ip }],
      wrapFor: (name) => wraps[name] ?? [],
      env: { REDIS_URL: t.redisUrl },
    },
    coordinatorListen: `${t.hostIp}:0`,
    redisUrl: t.redisUrl,
    redisWhere: 'Redis in its own namespace',
    link,
    where: `across the namespaces (${t.a.ns} ${t.a.ip} → ${t.b.ns} ${t.b.ip})`,
    loopbackComparable: false,
    opened: `netns: ${t.describe()}`,
    meta: {
      nodes: [`${PRODUCER_NODE}@${t.a.ip} (${t.a.ns})`, `${CONSUMER_NODE}@${t.b.ip} (${t.b.ns})`],
      netns: {
        tag: t.tag, bridge: t.names.bridge, hostIp: t.hostIp,
        namespaces: { a: t.a.ns, b: t.b.ns, redis: t.redis.ns }, redis: t.redisAddress,
        link: link === undefined ? null : { rate: link.text, bitsPerSec: link.bitsPerSec, qdisc: 'tbf, every veth end' },
      },
    },
    notes: [
      `topology: ${t.describe()}`,
      'networked and remote-kv rows: producer in namespace A, consumer in namespace B, Redis in a third; raw-tcp-2proc: sender in A, receiver in B; iperf3: client in A, server in B',
      'raw-tcp and transport rows stay on loopback in this process (both ends in one thread): they are not like for like with the namespace rows, so no goal compares networked with them',
    ],
    close: () => t.close(),
  };
}
