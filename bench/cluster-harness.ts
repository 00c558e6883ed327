// Spawns `cwasi node` processes on loopback addresses for tests and
// benchmarks, each in its own cluster namespace, and stops them by pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NodeProcess {
  name: string;
  address: string;
  child: ChildProcess;
  /** Everything the node printed. */
  log: string[];
}

export interface Harness {
  cluster: string;
  /** The NATS server(s) nodes are pointed at (comma-separated for a NATS cluster). */
  nats: string;
  secretFile: string;
  nodes: Map<string, NodeProcess>;
  /** Start one more node (or restart a stopped one) and wait until it is ready. */
  start(name: string, host: string, port?: number): Promise<NodeProcess>;
  /** Kill a node (SIGKILL when `hard`, else SIGTERM and wait). */
  stop(name: string, hard?: boolean): Promise<void>;
  /** Stop every node this harness started. */
  close(): Promise<void>;
}

const bin = fileURLToPath(new URL('../../bin/cwasi.js', import.meta.url));

export interface ClusterHarnessOptions {
  /** One URL (may be a comma-separated list) or several, each passed as its own --nats flag. */
  nats?: string | string[];
  /** Other NATS server(s) for one node, by name (default `nats`). */
  natsFor?: (name: string) => string | string[] | undefined;
  nodes: Array<{ name: string; host: string }>;
  threads?: number;
  readyTimeoutMs?: number;
  /** More `cwasi node` flags for every node (NATS credentials, TLS). */
  nodeArgs?: string[];
  /** More flags for one node, by name. */
  argsFor?: (name: string) => string[];
  /** A command that runs one node's process, by name (e.g. ['ip', 'netns', 'exec', ns]); it must exec the node so its pid is the node's. */
  wrapFor?: (name: string) => string[];
  /** More environment for every node's process (e.g. REDIS_URL for the remote-kv channel), over this process's. */
  env?: Record<string, string>;
}

export async function startCluster(opts: ClusterHarnessOptions): Promise<Harness> {
  const nats = opts.nats ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const cluster = `c${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-cluster-'));
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const nodes = new Map<string, NodeProcess>();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;

  const start = (name: string, host: string, port = 0): Promise<NodeProcess> => new Promise((resolve, reject) => {
    const wrap = opts.wrapFor?.(name) ?? [];
    const command = [...wrap, process.execPath];
    const urls = opts.natsFor?.(name) ?? nats;
    const natsArgs = (typeof urls === 'string' ? [urls] : urls).flatMap((u) => ['--nats', u]);
    const child = spawn(command[0]!, [...command.slice(1), bin, 'node', ...natsArgs, '--listen', `${host}:${port}`, '--name', name,
      '--cluster', cluster, '--secret-file', secretFile, '--threads', String(opts.threads ?? 2),
      ...(opts.nodeArgs ?? []), ...(opts.argsFor?.(name) ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env !== undefined ? { env: { ...process.env, ...opts.env } } : {}),
    });
    const node: NodeProcess = { name, address: '', child, log: [] };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${name} was not ready within ${readyTimeoutMs} ms:\n${node.log.join('')}`));
    }, readyTimeoutMs);
    const onData = (d: Buffer) => {
      const text = d.toString();
      node.log.push(text);
      const m = /ready: .* networked buffer on (\S+),/.exec(text);
      if (m && node.address === '') {
        node.address = m[1]!;
        clearTimeout(timer);
        nodes.set(name, node);
        resolve(node);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (node.address === '') reject(new Error(`node ${name} exited with ${code} before it was ready:\n${node.log.join('')}`));
    });
  });

  const stop = async (name: string, hard = false): Promise<void> => {
    const n = nodes.get(name);
    if (n === undefined || n.child.exitCode !== null || n.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
    n.child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => n.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const harness: Harness = {
    cluster, nats: typeof nats === 'string' ? nats : nats.join(','), secretFile, nodes, start, stop,
    async close() {
      await Promise.all([...nodes.keys()].map((n) => stop(n)));
    },
  };
  try {
    await Promise.all(opts.nodes.map((n) => start(n.name, n.host)));
  } catch (err) {
    await harness.close();
    throw err;
  }
  return harness;
}
