// The NATS credential and TLS flags shared by `cwasi run|plan --nats` and
// `cwasi node`. Secrets come from files, never from the command line, so they
// do not show in `ps` or shell history. `--nats` itself may be repeated or
// hold a comma-separated list (a NATS cluster), and `--nats-replicas` sets the
// registry buckets' replica count.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CwasiError } from '../errors.js';
import type { NatsAuthOptions } from '../cluster/nats-auth.js';
import { kvReplicas } from '../cluster/nats-cluster.js';
import { withFlagNames } from './flag-errors.js';

export interface NatsFlags {
  /** Every --nats given, in order (each may be a comma-separated list). */
  nats?: string[];
  natsReplicas?: string;
  natsUser?: string;
  natsPassFile?: string;
  natsTokenFile?: string;
  natsNkeyFile?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

/** Commander's collector for a repeatable --nats. */
export function collectNats(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `--nats` (repeatable, comma-separated lists) and `--nats-replicas`, in the
 * help group the command has open; `required` for `cwasi node`.
 */
export function addNatsServerFlags(cmd: Command, help: string, required: boolean): Command {
  const flag = '--nats <url>';
  const text = `${help} (repeatable, or comma-separated: a NATS cluster)`;
  return (required ? cmd.requiredOption(flag, text, collectNats) : cmd.option(flag, text, collectNats))
    .option('--nats-replicas <n>', 'replicas of the registry buckets, 1-5 (default: 1)');
}

/** The engine's `cluster.natsReplicas` from the flag (E_CONFIG unless an integer 1..5). */
export function natsReplicasFromFlags(o: NatsFlags): number | undefined {
  if (o.natsReplicas === undefined) return undefined;
  const n = /^\d+$/.test(o.natsReplicas) ? Number(o.natsReplicas) : Number.NaN;
  try {
    return kvReplicas(Number.isNaN(n) ? o.natsReplicas : n);
  } catch (err) {
    throw withFlagNames(err);
  }
}

/** The NATS credential and TLS flags, last in the help under a heading of their own. */
export function addNatsFlags(cmd: Command): Command {
  return cmd
    .optionsGroup('NATS credentials and TLS:')
    .option('--nats-user <user>', 'NATS user (with --nats-pass-file)')
    .option('--nats-pass-file <file>', 'file holding the NATS password of --nats-user')
    .option('--nats-token-file <file>', 'file holding a NATS token')
    .option('--nats-nkey-file <file>', 'file holding a NATS NKey user seed (SU...)')
    .option('--nats-creds <file>', 'NATS .creds file (JWT and NKey seed)')
    .option('--nats-tls-ca <file>', 'CA that signed the NATS server certificate (PEM)')
    .option('--nats-tls-cert <file>', 'client certificate for NATS (PEM; with --nats-tls-key)')
    .option('--nats-tls-key <file>', 'key of --nats-tls-cert (PEM)');
}

function secretFrom(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CwasiError('E_IO', `cannot read the ${what} file ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** The engine's `cluster.natsAuth` from the flags, or undefined when none is given. */
export function natsAuthFromFlags(o: NatsFlags): NatsAuthOptions | undefined {
  const a: NatsAuthOptions = {};
  if (o.natsPassFile !== undefined && o.natsUser === undefined) throw new CwasiError('E_CONFIG', '--nats-pass-file needs --nats-user');
  if (o.natsUser !== undefined) a.user = o.natsUser;
  if (o.natsPassFile !== undefined) a.pass = secretFrom(o.natsPassFile, 'NATS password');
  if (o.natsTokenFile !== undefined) a.token = secretFrom(o.natsTokenFile, 'NATS token');
  if (o.natsNkeyFile !== undefined) a.nkeySeedFile = o.natsNkeyFile;
  if (o.natsCreds !== undefined) a.credsFile = o.natsCreds;
  if ((o.natsTlsCert === undefined) !== (o.natsTlsKey === undefined)) {
    throw new CwasiError('E_CONFIG', o.natsTlsCert !== undefined ? '--nats-tls-cert needs --nats-tls-key' : '--nats-tls-key needs --nats-tls-cert');
  }
  if (o.natsTlsCa !== undefined || o.natsTlsCert !== undefined || o.natsTlsKey !== undefined) {
    a.tls = {
      ...(o.natsTlsCa !== undefined ? { caFile: o.natsTlsCa } : {}),
      ...(o.natsTlsCert !== undefined ? { certFile: o.natsTlsCert } : {}),
      ...(o.natsTlsKey !== undefined ? { keyFile: o.natsTlsKey } : {}),
    };
  }
  return Object.keys(a).length === 0 ? undefined : a;
}

/** True when any NATS flag is given (they need --nats). */
export function anyNatsFlag(o: NatsFlags): boolean {
  return [o.natsReplicas, o.natsUser, o.natsPassFile, o.natsTokenFile, o.natsNkeyFile, o.natsCreds, o.natsTlsCa, o.natsTlsCert, o.natsTlsKey].some((x) => x !== undefined);
}
