// A network namespace joined to this one by a veth pair, for tests that cut a
// node off for real: the node runs inside (`ip netns exec`), a private NATS
// server listens on the host side of the pair, and `cut()` takes the link down
// on the namespace side (the host-side address stays reachable from here).
// Needs root and iproute2; `openNetns()` says why when it cannot be had
// (CWASI_TEST_NO_NETNS=1 declines it, to run a test's loopback fallback).
// Everything it creates is named after a random tag and removed by `close()`.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_BIN } from './servers.js';

export interface Netns {
  name: string;
  /** The host side of the pair (the private NATS server listens here). */
  hostIp: string;
  /** The namespace side (the node inside listens here). */
  nsIp: string;
  nats: string;
  /** Command prefix that runs a process inside the namespace. */
  wrap: string[];
  cut(): void;
  restore(): void;
  /** Shape both directions of the link (tbf for the rate, netem for a delay where the kernel has it); zeros remove it. */
  shape(rateMbit: number, delayMs?: number): Shaped;
  close(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function tc(prefix: string[], args: string[]): void {
  const [cmd, ...rest] = [...prefix, 'tc', ...args];
  execFileSync(cmd!, rest, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** What `shape()` applied: a rate always (tbf); a delay only where the kernel has netem. */
export interface Shaped {
  rateMbit: number;
  delayMs: number;
  /** Why no delay was applied, if one was asked for and none was. */
  noDelay?: string;
}

function shapeDev(prefix: string[], dev: string, rateMbit: number, delayMs: number): string | undefined {
  try { tc(prefix, ['qdisc', 'del', 'dev', dev, 'root']); } catch { /* none there */ }
  if (rateMbit === 0 && delayMs === 0) return undefined;
  const tbf = ['tbf', 'rate', `${rateMbit}mbit`, 'burst', '64kb', 'latency', '400ms'];
  if (delayMs > 0) {
    try {
      tc(prefix, ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'netem', 'delay', `${delayMs}ms`]);
      if (rateMbit > 0) tc(prefix, ['qdisc', 'add', 'dev', dev, 'parent', '1:1', 'handle', '10:', ...tbf]);
      return undefined;
    } catch (err) {
      try { tc(prefix, ['qdisc', 'del', 'dev', dev, 'root']); } catch { /* none there */ }
      if (rateMbit > 0) tc(prefix, ['qdisc', 'add', 'dev', dev, 'root', ...tbf]);
      return `netem unavailable: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
    }
  }
  tc(prefix, ['qdisc', 'add', 'dev', dev, 'root', ...tbf]);
  return undefined;
}

async function listening(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A namespace with a private NATS server, or the reason there is none. */
export async function openNetns(): Promise<Netns | { unavailable: string }> {
  if (process.env.CWASI_TEST_NO_NETNS === '1') return { unavailable: 'CWASI_TEST_NO_NETNS=1' };
  if (process.platform !== 'linux') return { unavailable: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { unavailable: 'network namespaces need root' };
  if (NATS_BIN === undefined) return { unavailable: 'no nats-server binary' };
  const tag = randomBytes(3).toString('hex');
  const name = `cwasi-${tag}`;
  const vh = `cwh${tag}`;
  const vn = `cwn${tag}`;
  const subnet = `10.213.${randomInt(1, 250)}`;
  const hostIp = `${subnet}.1`;
  const nsIp = `${subnet}.2`;
  let nats: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    const n = nats;
    nats = undefined;
    if (n !== undefined && n.exitCode === null && n.signalCode === null) {
      const exited = new Promise<void>((r) => n.once('exit', () => r()));
      n.kill('SIGKILL');
      await exited;
    }
    // Deleting the namespace removes its end of the pair, and with it the host end.
    try { ip('link', 'del', vh); } catch { /* gone with the namespace, or never made */ }
    try { ip('netns', 'del', name); } catch { /* never made */ }
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', vh, 'type', 'veth', 'peer', 'name', vn);
    ip('link', 'set', vn, 'netns', name);
    ip('addr', 'add', `${hostIp}/24`, 'dev', vh);
    ip('link', 'set', vh, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/24`, 'dev', vn);
    ip('netns', 'exec', name, 'ip', 'link', 'set', vn, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    await close();
    return { unavailable: `cannot set up a network namespace: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}` };
  }
  const port = randomInt(20_000, 40_000);
  const store = mkdtempSync(join(tmpdir(), 'cwasi-nats-'));
  nats = spawn(NATS_BIN, ['-a', hostIp, '-p', String(port), '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    await listening(hostIp, port, 10_000);
  } catch (err) {
    await close();
    return { unavailable: `the private NATS server did not start: ${(err as Error).message}` };
  }
  return {
    name, hostIp, nsIp, nats: `nats://${hostIp}:${port}`, wrap: ['ip', 'netns', 'exec', name],
    cut: () => ip('netns', 'exec', name, 'ip', 'link', 'set', vn, 'down'),
    restore: () => ip('netns', 'exec', name, 'ip', 'link', 'set', vn, 'up'),
    shape: (rateMbit: number, delayMs = 0) => {
      const inside = shapeDev(['ip', 'netns', 'exec', name], vn, rateMbit, delayMs);
      const outside = shapeDev([], vh, rateMbit, delayMs);
      const why = inside ?? outside;
      return why === undefined ? { rateMbit, delayMs } : { rateMbit, delayMs: 0, noDelay: why };
    },
    close,
  };
}
