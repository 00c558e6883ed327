// NATS's own security for the control-plane connection: credentials (user and
// password, a token, an NKey seed or a .creds file) and TLS, turned into the
// client's connection options. This is the outer layer; the cluster secret
// (engine/cluster/signing.ts) authenticates every message inside it whether or
// not the server asks for credentials.

import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { CwasiError } from '../errors.js';

export interface NatsAuthOptions {
  /** User and password (the server's `authorization.users`). */
  user?: string;
  pass?: string;
  /** A token (the server's `authorization.token`). */
  token?: string;
  /** An NKey user seed ("SU…"), or a file holding it. */
  nkeySeed?: string;
  nkeySeedFile?: string;
  /** A .creds file (JWT and NKey seed) from `nsc` or a NATS account server. */
  credsFile?: string;
  /**
   * TLS to the server. `{}` requires TLS with the system's CAs; `caFile`
   * trusts a private CA; `certFile` + `keyFile` present a client certificate
   * (the server's `tls.verify`).
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CwasiError('E_IO', `cannot read the NATS ${what} file ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** Connection options for `connect()`; throws E_CONFIG on contradictory or unreadable settings. */
export function natsConnectionOptions(o: NatsAuthOptions | undefined): Partial<ConnectionOptions> {
  if (o === undefined) return {};
  const kinds = [o.user !== undefined, o.token !== undefined, o.nkeySeed !== undefined || o.nkeySeedFile !== undefined, o.credsFile !== undefined];
  if (kinds.filter(Boolean).length > 1) {
    throw new CwasiError('E_CONFIG', 'NATS credentials: give one of user/pass, token, NKey seed or a .creds file');
  }
  if (o.pass !== undefined && o.user === undefined) throw new CwasiError('E_CONFIG', 'NATS credentials: a password needs a user');
  if (o.nkeySeed !== undefined && o.nkeySeedFile !== undefined) throw new CwasiError('E_CONFIG', 'NATS credentials: give the NKey seed or its file, not both');
  const out: Partial<ConnectionOptions> = {};
  if (o.user !== undefined) {
    out.user = o.user;
    if (o.pass !== undefined) out.pass = o.pass;
  }
  if (o.token !== undefined) out.token = o.token;
  const seed = o.nkeySeed ?? (o.nkeySeedFile !== undefined ? readText(o.nkeySeedFile, 'NKey seed') : undefined);
  if (seed !== undefined) {
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) throw new CwasiError('E_CONFIG', 'NATS credentials: the NKey seed must be a user seed (starts with "SU")');
    out.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (o.credsFile !== undefined) {
    const creds = readText(o.credsFile, 'credentials');
    if (!creds.includes('BEGIN NATS USER JWT') || !creds.includes('BEGIN USER NKEY SEED')) {
      throw new CwasiError('E_CONFIG', `NATS credentials: ${o.credsFile} is not a .creds file (JWT and NKey seed)`);
    }
    out.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  if (o.tls !== undefined) {
    const t = o.tls;
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) throw new CwasiError('E_CONFIG', 'NATS TLS: a client certificate needs its key (certFile and keyFile)');
    // Read here so a missing file is E_CONFIG at start, not a TLS failure later.
    out.tls = {
      ...(t.caFile !== undefined ? { ca: readText(t.caFile, 'TLS CA') } : {}),
      ...(t.certFile !== undefined ? { cert: readText(t.certFile, 'TLS certificate'), key: readText(t.keyFile!, 'TLS key') } : {}),
    };
  }
  return out;
}
