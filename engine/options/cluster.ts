// A cluster member's options resolved: the listen address parsed, the secret
// read, the defaults filled in. Checked by Engine.create before anything
// starts (the shape of every value, and the listen address), and resolved
// again by the member when it joins (which also reads the secret).

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CwasiError } from '../errors.js';
import type { ClusterOptions } from '../cluster/member.js';
import { LIVENESS_BEATS } from '../cluster/registry.js';
import { OPTION_DEFAULTS, filled } from './defaults.js';
import { optionError, shown } from './kinds.js';

const encoder = new TextEncoder();
const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LISTEN = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/;
/** Shortest cluster secret, in bytes. */
export const MIN_CLUSTER_SECRET_BYTES = 16;

export interface ResolvedCluster {
  name: string;
  cluster: string;
  host: string;
  port: number;
  heartbeatMs: number;
  staleMs: number;
  natsReplicas: number;
  preAuth: { perAddress: number; total: number; timeoutMs: number };
}

/** `cluster.listen` as host and port; E_CONFIG naming it when it is not "host:port". */
export function listenAddress(listen: string | undefined): { host: string; port: number } {
  const m = LISTEN.exec(listen ?? OPTION_DEFAULTS.engine.cluster.listen);
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || port > 65535) throw optionError('cluster.listen', `must be "host:port" (port 0 to 65535), got ${shown(listen)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The node's name: given, or <hostname>-<pid>; E_CONFIG naming cluster.name when it is not 1-64 letters, digits, _ . - */
export function nodeName(given: string | undefined): string {
  const name = given ?? `${hostname()}-${process.pid}`;
  if (!NODE_NAME.test(name)) throw optionError('cluster.name', `must be 1-64 letters, digits, _ . -, got ${shown(name)}`);
  return name;
}

/** Everything but the secret, with the defaults filled in. */
export function resolveCluster(o: ClusterOptions): ResolvedCluster {
  const d = OPTION_DEFAULTS.engine.cluster;
  const heartbeatMs = o.heartbeatMs ?? d.heartbeatMs;
  return {
    name: nodeName(o.name),
    cluster: o.cluster ?? d.cluster,
    ...listenAddress(o.listen),
    heartbeatMs,
    staleMs: o.staleMs ?? LIVENESS_BEATS * heartbeatMs,
    natsReplicas: o.natsReplicas ?? d.natsReplicas,
    preAuth: filled(d.preAuth, o.preAuth),
  };
}

/** The cluster secret's bytes: cluster.secret, else the file cluster.secretFile, else CWASI_SECRET. */
export function readSecret(opts: ClusterOptions): Uint8Array {
  let secret = opts.secret;
  if (secret === undefined && opts.secretFile !== undefined) {
    try {
      secret = readFileSync(opts.secretFile, 'utf8').trim();
    } catch (err) {
      throw new CwasiError('E_IO', `cannot read the cluster secret file ${opts.secretFile}: ${(err as Error).message}`, { file: opts.secretFile, option: 'cluster.secretFile' }, { cause: err });
    }
  }
  if (secret === undefined) secret = process.env.CWASI_SECRET;
  if (secret === undefined) throw optionError('cluster.secret', 'is missing: a cluster needs a secret (cluster.secret, cluster.secretFile or CWASI_SECRET)');
  const bytes = typeof secret === 'string' ? encoder.encode(secret) : secret;
  if (bytes.length < MIN_CLUSTER_SECRET_BYTES) {
    const [path, from] = opts.secret !== undefined ? ['cluster.secret', ''] : opts.secretFile !== undefined ? ['cluster.secretFile', ` (${opts.secretFile})`] : ['cluster.secret', ' (from CWASI_SECRET)'];
    throw optionError(path, `must be a secret of at least ${MIN_CLUSTER_SECRET_BYTES} bytes${from}, got ${bytes.length}`);
  }
  return bytes;
}
