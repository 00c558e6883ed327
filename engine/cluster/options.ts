// Reading a cluster member's options: the secret and the listen address.

import { readFileSync } from 'node:fs';
import { CwasiError } from '../errors.js';
import type { ClusterOptions } from './member.js';

const encoder = new TextEncoder();

export function readSecret(opts: ClusterOptions): Uint8Array {
  let secret = opts.secret;
  if (secret === undefined && opts.secretFile !== undefined) {
    try {
      secret = readFileSync(opts.secretFile, 'utf8').trim();
    } catch (err) {
      throw new CwasiError('E_IO', `cannot read the cluster secret file ${opts.secretFile}: ${(err as Error).message}`, { file: opts.secretFile }, { cause: err });
    }
  }
  if (secret === undefined) secret = process.env.CWASI_SECRET;
  if (secret === undefined) throw new CwasiError('E_CONFIG', 'a cluster needs a secret (secret, secretFile or CWASI_SECRET)');
  const bytes = typeof secret === 'string' ? encoder.encode(secret) : secret;
  if (bytes.length < 16) throw new CwasiError('E_CONFIG', 'the cluster secret must be at least 16 bytes');
  return bytes;
}

export function listenAddress(listen: string | undefined): { host: string; port: number } {
  if (listen === undefined) return { host: '127.0.0.1', port: 0 };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (m === null) throw new CwasiError('E_CONFIG', `--listen must be host:port, got "${listen}"`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}
