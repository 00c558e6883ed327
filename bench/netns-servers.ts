// The servers of the namespace topology (netns.ts): a private nats-server
// with JetStream on the bridge's address, and redis-server inside the third
// namespace (`ip netns exec` execs it, so the child's pid is Redis's). Each is
// killed by the pid started here; their data directories are named after the
// topology's tag and removed once they exit.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net-ref.js';
import type { NetnsHost } from './netns.js';

export interface ServerProcess {
  url: string;
  pid: number;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  /** SIGKILL, synchronously (a signal handler calls it); harmless once exited. */
  kill(): void;
}

function binary(candidates: string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

export const REDIS_BIN = binary(['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
export const NATS_BIN = binary(['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']);

const READY_MS = 10_000;

/** Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs` or when `child` exits. */
async function listening(child: ChildProcess, host: string, port: number, timeoutMs: number, log: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode}): ${log.join('').trim().slice(-300)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

async function launch(command: string[], dir: string, url: string, host: string, port: number, what: string, track: (s: ServerProcess) => void): Promise<ServerProcess> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stdout!.on('data', (d: Buffer) => { if (log.length < 200) log.push(d.toString()); });
  child.stderr!.on('data', (d: Buffer) => { if (log.length < 200) log.push(d.toString()); });
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  }).then(() => rmSync(dir, { recursive: true, force: true }));
  const server: ServerProcess = {
    url, pid: child.pid ?? -1, exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  child.once('error', (err) => log.push(`spawn failed: ${err.message}`));
  track(server); // before it is ready: a tear-down meanwhile kills it too
  try {
    await listening(child, host, port, READY_MS, log);
  } catch (err) {
    server.kill();
    await exited;
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  return server;
}

/** nats-server -js on `hostIp` (a free port), its store in a fresh directory. */
export async function startNats(hostIp: string, tag: string, track: (s: ServerProcess) => void): Promise<ServerProcess> {
  const port = await freePort(hostIp);
  const store = mkdtempSync(join(tmpdir(), `cwasi-${tag}-nats-`));
  return launch([NATS_BIN!, '-a', hostIp, '-p', String(port), '-js', '-sd', store], store, `nats://${hostIp}:${port}`, hostIp, port, 'nats-server', track);
}

/**
 * redis-server inside `host`'s namespace, bound to its address, nothing
 * persisted. It takes connections from other addresses only with a password
 * (protected mode), so it gets a random one, in its URL.
 */
export async function startRedis(host: NetnsHost, port: number, tag: string, track: (s: ServerProcess) => void): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), `cwasi-${tag}-redis-`));
  const password = randomBytes(16).toString('hex');
  return launch([...host.wrap, REDIS_BIN!, '--port', String(port), '--bind', host.ip, '--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir], dir,
    `redis://:${password}@${host.ip}:${port}`, host.ip, port, `redis-server in ${host.ns}`, track);
}
