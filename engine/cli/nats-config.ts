// `cwasi nats-config`: a nats-server configuration in which only a cluster's
// members can reach it. NATS's own authorization is the first line; the
// cluster secret's seals (engine/cluster/signing.ts) are the second.
//
// The cluster gets a NATS account of its own. Accounts are isolated: a client
// of any other account (another application on the same server, with valid
// credentials of its own) sees none of the cluster's subjects, cannot publish
// on them and cannot reach its JetStream registry, whatever subjects it names.
// Inside the account:
//
//   | user                   | may publish                              | may subscribe                 |
//   |------------------------|------------------------------------------|-------------------------------|
//   | cwasi-<cluster>-node   | anything in the account                  | anything in the account       |
//   | cwasi-<cluster>-monitor| JetStream INFO of the registry streams   | cwasi.<cluster>.>, _INBOX.>   |
//
// Members are trusted as fully as the secret they hold. The monitor reads:
// it can watch the control subjects (whose messages are sealed, not
// encrypted) and the registry streams' state, and change nothing. An `APPS`
// account with one user shows where the server's other applications go.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CwasiError } from '../errors.js';
import { bucketNames } from '../cluster/registry.js';

export interface NatsConfigOptions {
  cluster?: string;
  port?: string;
  storeDir?: string;
  /** Write nats.conf and one password file per user here instead of printing. */
  out?: string;
}

export interface NatsConfig {
  text: string;
  account: string;
  users: { node: string; monitor: string; app: string };
  passwords: { node: string; monitor: string; app: string };
}

/** NATS config strings are double-quoted: refuse what would need escaping rather than escape it. */
function quoted(s: string, what: string): string {
  if (!/^[A-Za-z0-9_./:@+=-]*$/.test(s)) throw new CwasiError('E_CONFIG', `${what} ${JSON.stringify(s)} may hold only letters, digits and _ . / : @ + = -`);
  return `"${s}"`;
}

const password = () => randomBytes(24).toString('base64url');

export function natsConfig(o: NatsConfigOptions): NatsConfig {
  const cluster = o.cluster ?? 'default';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cluster)) throw new CwasiError('E_CONFIG', `--cluster "${cluster}" must be 1-64 letters, digits, _ -`);
  const port = Number(o.port ?? 4222);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CwasiError('E_CONFIG', `--port must be 1..65535, got ${String(o.port)}`);
  const storeDir = o.storeDir ?? './nats-store';
  const { nodes, functions } = bucketNames(cluster);
  const account = `CWASI_${cluster.replace(/-/g, '_').toUpperCase()}`;
  const users = { node: `cwasi-${cluster}-node`, monitor: `cwasi-${cluster}-monitor`, app: 'app' };
  const passwords = { node: password(), monitor: password(), app: password() };
  const text = `# nats-server configuration for the cwasi cluster "${cluster}" (made by \`cwasi nats-config\`).
# The cluster has an account of its own: clients of other accounts can neither
# see nor publish on its subjects, nor reach its JetStream registry.
# Nodes join with: cwasi node --cluster ${cluster} --nats nats://HOST:${port} --nats-user ${users.node} --nats-pass-file node.pass
port: ${port}
jetstream {
  store_dir: ${quoted(storeDir, '--store-dir')}
}
accounts {
  ${account}: {
    jetstream: enabled
    users: [
      # Every node of the cluster (they also hold the cluster secret).
      { user: ${quoted(users.node, 'user')}, password: ${quoted(passwords.node, 'password')} }
      # Read-only: the control subjects and the registry streams' state.
      {
        user: ${quoted(users.monitor, 'user')}, password: ${quoted(passwords.monitor, 'password')}
        permissions: {
          publish: { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.KV_${nodes}", "$JS.API.STREAM.INFO.KV_${functions}"] }
          subscribe: { allow: ["cwasi.${cluster}.>", "_INBOX.>"] }
        }
      }
    ]
  }
  # The server's other applications (replace or remove): isolated from the cluster's account.
  APPS: {
    jetstream: enabled
    users: [
      { user: ${quoted(users.app, 'user')}, password: ${quoted(passwords.app, 'password')} }
    ]
  }
}
`;
  return { text, account, users, passwords };
}

/** Print the configuration, or write it and the password files into `o.out`; returns what to tell the user. */
export function cmdNatsConfig(o: NatsConfigOptions, print: (s: string) => void): void {
  const cfg = natsConfig(o);
  if (o.out === undefined) {
    print(cfg.text.trimEnd());
    return;
  }
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'nats.conf'), cfg.text, { mode: 0o600 });
  for (const k of ['node', 'monitor', 'app'] as const) writeFileSync(join(dir, `${k}.pass`), `${cfg.passwords[k]}\n`, { mode: 0o600 });
  print(`wrote ${join(dir, 'nats.conf')} and node.pass, monitor.pass, app.pass (mode 600)\n`
    + `start the server:  nats-server -c ${join(dir, 'nats.conf')}\n`
    + `join a node:       cwasi node --cluster ${o.cluster ?? 'default'} --nats nats://HOST:${o.port ?? 4222} --nats-user ${cfg.users.node} --nats-pass-file ${join(dir, 'node.pass')} --secret-file SECRET`);
}
