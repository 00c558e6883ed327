// A private three-server NATS cluster on loopback for tests: each server with
// its own client, route and monitoring port and its own JetStream store dir,
// routes to the other two. Started and stopped (kill -9) by the pid this
// helper spawned; the temp dirs are removed by close().

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_BIN } from './servers.js';
import { freePorts } from './sockets.js';

export interface ClusterServer {
  name: string;
  url: string;
  /** http://127.0.0.1:<port>, the monitoring endpoint (/jsz, /connz). */
  monitor: string;
  child: ChildProcess | undefined;
  log: string[];
}

export interface NatsCluster {
  servers: ClusterServer[];
  urls: string[];
  dir: string;
  /** Resolves once JetStream has a meta leader that sees every live server (bounded). */
  ready(timeoutMs?: number): Promise<string>;
  /** SIGKILL one server and wait until it exited. */
  kill(name: string): Promise<void>;
  /** Which server a client connection (by its name) is on now, if any live server lists it. */
  serverOf(connectionName: string): Promise<ClusterServer | undefined>;
  close(): Promise<void>;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.json();
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const bin = NATS_BIN;
  if (bin === undefined) throw new Error('nats-server is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-nats-cluster-'));
  const ports = await freePorts(3 * size);
  const routes = Array.from({ length: size }, (_, i) => `nats-route://127.0.0.1:${ports[size + i]}`);
  const servers: ClusterServer[] = Array.from({ length: size }, (_, i) => {
    const name = `n${i + 1}`;
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, `server_name: ${name}
listen: 127.0.0.1:${ports[i]}
http: 127.0.0.1:${ports[2 * size + i]}
jetstream { store_dir: "${join(dir, name)}" }
cluster {
  name: cwasi-test
  listen: 127.0.0.1:${ports[size + i]}
  routes: [${routes.join(', ')}]
}
`);
    const log: string[] = [];
    const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    return { name, url: `nats://127.0.0.1:${ports[i]}`, monitor: `http://127.0.0.1:${ports[2 * size + i]}`, child, log };
  });
  const live = () => servers.filter((s) => s.child !== undefined);

  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url),
    dir,
    async ready(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      // Polls /jsz (bounded, 100 ms apart): nats-server announces the election in its log only.
      while (Date.now() < deadline) {
        const views = await Promise.all(live().map(async (s) => {
          try {
            const j = await getJson(`${s.monitor}/jsz`) as { meta_cluster?: { leader?: string; cluster_size?: number } };
            return j.meta_cluster;
          } catch (err) {
            return { error: String(err) };
          }
        }));
        const leaders = new Set(views.map((v) => (v as { leader?: string } | undefined)?.leader));
        const leader = views[0] !== undefined && 'leader' in views[0] ? views[0].leader : undefined;
        if (leader !== undefined && leader !== '' && leaders.size === 1 && views.every((v) => (v as { cluster_size?: number } | undefined)?.cluster_size === size)) return leader;
        last = JSON.stringify(views);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no JetStream meta leader within ${timeoutMs} ms: ${last}\n${servers.map((s) => s.log.join('')).join('\n')}`);
    },
    async kill(name) {
      const s = servers.find((x) => x.name === name);
      const c = s?.child;
      if (s === undefined || c === undefined) return;
      s.child = undefined;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGKILL');
      await exited;
    },
    async serverOf(connectionName) {
      for (const s of live()) {
        try {
          const j = await getJson(`${s.monitor}/connz?limit=1024`) as { connections?: Array<{ name?: string }> };
          if (j.connections?.some((c) => c.name === connectionName) === true) return s;
        } catch {
          // that server is going away
        }
      }
      return undefined;
    },
    async close() {
      await Promise.all(servers.map((s) => cluster.kill(s.name)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
