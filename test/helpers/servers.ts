// Private Redis and NATS servers for tests that stop and restart them (the
// shared ones at REDIS_URL / NATS_URL must keep running for everyone else).
// Real binaries from the machine's packages; each on its own port, stopped by
// the pid this helper started.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateServer {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function binary(candidates: string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

export const REDIS_BIN = binary(['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
export const NATS_BIN = binary(['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']);

/** Resolves once something accepts TCP connections on the port (bounded). */
async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function server(port: number, url: string, launch: () => ChildProcess): PrivateServer {
  let child: ChildProcess | undefined;
  return {
    url,
    port,
    async start() {
      child = launch();
      child.stdout?.resume();
      child.stderr?.resume();
      await listening(port);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (c === undefined || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGKILL');
      await exited;
    },
  };
}

export function privateRedis(port: number): PrivateServer {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-redis-'));
  return server(port, `redis://127.0.0.1:${port}`, () => spawn(REDIS_BIN!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A NATS server started from a config file (auth, TLS); `config` gets the store dir to put in `jetstream`. */
export function privateNatsWithConfig(port: number, config: (storeDir: string) => string, scheme = 'nats'): PrivateServer {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-nats-'));
  const file = join(dir, 'server.conf');
  writeFileSync(file, config(join(dir, 'store')));
  return server(port, `${scheme}://127.0.0.1:${port}`, () => spawn(NATS_BIN!, ['-c', file, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A NATS server with JetStream; restarting keeps its store (KV buckets survive). */
export function privateNats(port: number): PrivateServer {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-nats-'));
  return server(port, `nats://127.0.0.1:${port}`, () => spawn(NATS_BIN!, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] }));
}
