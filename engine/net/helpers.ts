// Small helpers shared by the transport's files: settle-able promises,
// addresses, E_NET errors.

import { CwasiError } from '../errors.js';
import type { NetAddress } from './options.js';

export type Settle = { resolve: () => void; reject: (err: CwasiError) => void };

/** A promise with its settle functions, marked handled so a failure nobody awaits is not an unhandled rejection. */
export function deferred(): { promise: Promise<void> } & Settle {
  let resolve!: () => void;
  let reject!: (err: CwasiError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** "host:port" or "[v6]:port" → parts; E_CONFIG when malformed. */
export function parseAddress(address: string): NetAddress & { key: string } {
  const m = typeof address === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim()) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CwasiError('E_CONFIG', `peer address must be "host:port", got ${JSON.stringify(address)}`);
  const host = (m[1] ?? m[2])!;
  return { host, port, key: `${host.toLowerCase()}:${port}` };
}

/** The host of a "host:port" address ("" when it does not parse). */
export function hostOf(address: string): string {
  try {
    return parseAddress(address).host;
  } catch {
    return '';
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function netError(message: string, details: Record<string, unknown>, cause?: unknown): CwasiError {
  return new CwasiError('E_NET', message, details, cause === undefined ? undefined : { cause });
}
