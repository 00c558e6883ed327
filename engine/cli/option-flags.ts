// The engine names an option by its path in EngineOptions (`cluster.listen`);
// on the command line the same value came from a flag (`--listen`). Before an
// error is printed, the paths of options the CLI sets from flags are written
// as those flags, so the message names what the user typed.

import { CwasiError } from '../errors.js';

/** Option paths the CLI fills from a flag, and the flag. */
export const OPTION_FLAGS: Readonly<Record<string, string>> = {
  'threads': '--threads',
  'timeoutMs': '--timeout',
  'memoryMaxBytes': '--memory-max',
  'cluster.nats': '--nats',
  'cluster.natsReplicas': '--nats-replicas',
  'cluster.cluster': '--cluster',
  'cluster.name': '--name',
  'cluster.listen': '--listen',
  'cluster.secretFile': '--secret-file',
  'cluster.tls.cert': '--tls-cert',
  'cluster.tls.key': '--tls-key',
  'cluster.tls.ca': '--tls-ca',
  'cluster.natsAuth.user': '--nats-user',
  'cluster.natsAuth.pass': '--nats-pass-file',
  'cluster.natsAuth.token': '--nats-token-file',
  'cluster.natsAuth.nkeySeedFile': '--nats-nkey-file',
  'cluster.natsAuth.credsFile': '--nats-creds',
  'cluster.natsAuth.tls.caFile': '--nats-tls-ca',
  'cluster.natsAuth.tls.certFile': '--nats-tls-cert',
  'cluster.natsAuth.tls.keyFile': '--nats-tls-key',
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Longest first, so that `cluster.tls.ca` is not taken for a part of a longer path; a flag already written (`--threads`) is left alone. */
const PATHS = new RegExp(`(?<![\\w.-])(${Object.keys(OPTION_FLAGS).sort((a, b) => b.length - a.length).map(escape).join('|')})(?![\\w.])`, 'g');

/** `err` with the option paths in its message written as flags, when it names an option the CLI sets; else `err` itself. */
export function withOptionFlags(err: unknown): unknown {
  if (!(err instanceof CwasiError) || typeof err.details?.option !== 'string') return err;
  const flag = OPTION_FLAGS[err.details.option];
  if (flag === undefined) return err;
  const message = err.message.replace(PATHS, (path) => OPTION_FLAGS[path]!);
  const shown = new CwasiError(err.code, message, { ...err.details, flag }, { cause: err.cause });
  // --verbose prints the stack: the one of the failure, not of this rewrite.
  if (err.stack !== undefined) shown.stack = err.stack.replace(err.message, message);
  return shown;
}
