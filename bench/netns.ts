// Three network namespaces on one bridge, standing in for three hosts, for
// `cwasi bench networked --netns` (and its tests). Needs Linux, root and
// iproute2 (`ip`, and `tc` for a shaped link), plus nats-server and
// redis-server.
//
//   root namespace (this process: the coordinator engine, NATS)
//   ┌───────────────────────────────────────────────────────────────┐
//   │  bridge cwb<tag>  10.215.N.1/24 ── nats-server -js on .1        │
//   │     │               │               │                          │
//   │  cwv<tag>a       cwv<tag>b       cwv<tag>r   (root ends, tbf)    │
//   └─────┼───────────────┼───────────────┼──────────────────────────┘
//      veth pair       veth pair       veth pair
//   ┌─────┼─────┐   ┌─────┼─────┐   ┌─────┼─────┐
//   │ cwn<tag>a │   │ cwn<tag>b │   │ cwn<tag>r │  (namespace ends, tbf)
//   │ .2        │   │ .3        │   │ .4        │
//   │ cwasi-<tag>-a │ cwasi-<tag>-b │ cwasi-<tag>-r │
//   │ node A    │   │ node B    │   │ redis     │
//   └───────────┘   └───────────┘   └───────────┘
//
// A's bytes to B leave A through cwn<tag>a and reach B through cwv<tag>b;
// with a link rate each of the six veth ends gets a tbf qdisc at that rate
// on its egress, so every direction of every namespace's link is shaped once
// on the way out and once on the way in (both at the same rate: the path is
// one link of that rate). Redis's link is shaped too: remote-kv crosses it
// twice (SET from A, GET from B), as it would with Redis on a third host.
//
// Everything is named after a random tag and removed by `close()`, when the
// set-up fails half way, and on SIGINT/SIGTERM while open (synchronously,
// then the process exits 130/143), and only what it made itself (a name that
// clashed with someone else's is left alone): every process still inside a
// namespace is killed by its pid (`ip netns pids`), the root ends of the
// pairs (which take the namespace ends with them) and the bridge are deleted,
// then the namespaces.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { CwasiError } from 'cwasi';
import type { LinkRate } from 'cwasi/primitives';
import { NATS_BIN, REDIS_BIN, startNats, startRedis, type ServerProcess } from './netns-servers.js';

/** One namespace: its name, its address on the bridge and the command prefix that runs a process inside it. */
export interface NetnsHost {
  ns: string;
  ip: string;
  wrap: string[];
}

export interface Topology {
  tag: string;
  /** The bridge's address in the root namespace (NATS and the coordinator listen here). */
  hostIp: string;
  a: NetnsHost;
  b: NetnsHost;
  /** The third namespace, Redis's. */
  redis: NetnsHost;
  nats: string;
  /** Redis's URL, its password in it. */
  redisUrl: string;
  /** Redis's host:port (for reports: no password). */
  redisAddress: string;
  /** The rate every link is shaped to, if one was asked for. */
  link: LinkRate | undefined;
  /** What was made, by name. */
  names: TopologyNames;
  /** One line saying what runs where. */
  describe(): string;
  close(): Promise<void>;
}

export interface TopologyNames {
  bridge: string;
  namespaces: string[];
  /** The root ends of the veth pairs. */
  rootLinks: string[];
  /** The namespace ends (inside their namespaces until deleted). */
  nsLinks: string[];
}

export interface TopologyOptions {
  /** Shape every link with tbf at this rate (both directions). */
  link?: LinkRate;
  /** The name tag (6 hex digits; random unless given, e.g. by a test that pre-makes a clashing name). */
  tag?: string;
  /** Called first on SIGINT/SIGTERM, before the synchronous tear-down (e.g. to stop a progress bar). */
  onInterrupt?: () => void;
}

const SIDES = ['a', 'b', 'r'] as const;
/** Redis inside its own, fresh namespace: nothing else listens there. */
const REDIS_PORT = 6379;
/** 10.215.N.0/24; N is chosen so no address of this host is in it. */
const SUBNET_PREFIX = '10.215.';

export function topologyNames(tag: string): TopologyNames {
  return {
    bridge: `cwb${tag}`,
    namespaces: SIDES.map((s) => `cwasi-${tag}-${s}`),
    rootLinks: SIDES.map((s) => `cwv${tag}${s}`),
    nsLinks: SIDES.map((s) => `cwn${tag}${s}`),
  };
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function why(err: unknown): string {
  const stderr = (err as { stderr?: string | Buffer }).stderr?.toString().trim();
  return stderr || (err as Error).message;
}

/** Why namespaces cannot be had here, or undefined when they can. */
export function netnsUnavailable(link?: LinkRate): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, or drop --netns)';
  for (const [cmd, args, pkg] of [['ip', ['-V'], 'iproute2'], ...(link ? [['tc', ['-V'], 'iproute2']] : [])] as Array<[string, string[], string]>) {
    try { run(cmd, args); } catch { return `no \`${cmd}\` (Debian package ${pkg})`; }
  }
  if (NATS_BIN === undefined) return 'no nats-server binary (for the private NATS server on the bridge)';
  if (REDIS_BIN === undefined) return 'no redis-server binary (for Redis in the third namespace)';
  return undefined;
}

/** A /24 under 10.215. that no interface of this host is in (bounded tries). */
function freeSubnet(): string {
  const taken = run('ip', ['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 32; i++) {
    const subnet = `${SUBNET_PREFIX}${randomInt(1, 255)}`;
    if (!taken.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error(`no free /24 under ${SUBNET_PREFIX}0.0/16`);
}

/** tbf's bucket: 4 ms at the rate (fewer would starve it between timer ticks), at least 128 KiB so a GSO packet passes whole. */
export function tbfBurstBytes(link: LinkRate): number {
  return Math.max(128 * 1024, Math.ceil(link.bitsPerSec / 8 * 0.004));
}

/** tbf on one device's egress: `tbfBurstBytes` of burst, 20 ms of queue. */
function shape(prefix: string[], dev: string, link: LinkRate): void {
  const burst = tbfBurstBytes(link);
  const [cmd, ...rest] = [...prefix, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', link.text, 'burst', String(burst), 'latency', '20ms'];
  run(cmd!, rest);
}

/** What set-up made so far, in order: only these are removed (a name that clashed with someone else's is not ours). */
interface Made {
  namespaces: string[];
  /** The bridge and the root ends of the pairs (deleting a root end deletes its namespace end). */
  links: string[];
  servers: ServerProcess[];
}

/**
 * Kills what runs inside the namespaces and deletes the links, the bridge and
 * the namespaces that were made; synchronous, so that a signal handler can
 * run it.
 */
function teardown(made: Made): void {
  for (const ns of made.namespaces) {
    let pids: string[] = [];
    try { pids = run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean); } catch { /* gone */ }
    for (const pid of pids) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* exited meanwhile */ }
    }
  }
  for (const s of made.servers) s.kill();
  for (const dev of [...made.links].reverse()) {
    try { run('ip', ['link', 'del', dev]); } catch { /* gone with its namespace */ }
  }
  for (const ns of made.namespaces) {
    try { run('ip', ['netns', 'del', ns]); } catch { /* gone */ }
  }
}

/**
 * Makes the bridge, the three namespaces and their links (shaped when
 * `link` is given), and starts NATS on the bridge and Redis in the third
 * namespace. Fails with E_NETNS_UNAVAILABLE, before anything is made when
 * the machine cannot have namespaces, else after removing what it made.
 */
export async function openTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const unavailable = netnsUnavailable(opts.link);
  if (unavailable !== undefined) throw new CwasiError('E_NETNS_UNAVAILABLE', `--netns: ${unavailable}`);
  const tag = opts.tag ?? randomBytes(3).toString('hex');
  if (!/^[0-9a-f]{6}$/.test(tag)) throw new RangeError(`tag must be 6 hex digits, got "${tag}"`);
  const names = topologyNames(tag);
  const made: Made = { namespaces: [], links: [], servers: [] };
  let closed = false;
  const onSignal = (signal: NodeJS.Signals) => {
    opts.onInterrupt?.();
    closed = true;
    teardown(made);
    process.stderr.write(`interrupted (${signal}): network namespaces cwasi-${tag}-* and their links removed\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    teardown(made);
    await Promise.all(made.servers.map((s) => s.exited));
  };

  let subnet = '';
  const hosts: NetnsHost[] = [];
  try {
    subnet = freeSubnet();
    run('ip', ['link', 'add', names.bridge, 'type', 'bridge']);
    made.links.push(names.bridge);
    run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', names.bridge]);
    run('ip', ['link', 'set', names.bridge, 'up']);
    for (let i = 0; i < SIDES.length; i++) {
      const ns = names.namespaces[i]!;
      const inside = ['ip', 'netns', 'exec', ns];
      const host: NetnsHost = { ns, ip: `${subnet}.${i + 2}`, wrap: inside };
      run('ip', ['netns', 'add', ns]);
      made.namespaces.push(ns);
      run('ip', ['link', 'add', names.rootLinks[i]!, 'type', 'veth', 'peer', 'name', names.nsLinks[i]!]);
      made.links.push(names.rootLinks[i]!);
      run('ip', ['link', 'set', names.nsLinks[i]!, 'netns', ns]);
      run('ip', ['link', 'set', names.rootLinks[i]!, 'master', names.bridge, 'up']);
      run(inside[0]!, [...inside.slice(1), 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', names.nsLinks[i]!]);
      run(inside[0]!, [...inside.slice(1), 'ip', 'link', 'set', names.nsLinks[i]!, 'up']);
      run(inside[0]!, [...inside.slice(1), 'ip', 'link', 'set', 'lo', 'up']);
      if (opts.link !== undefined) {
        shape(inside, names.nsLinks[i]!, opts.link);
        shape([], names.rootLinks[i]!, opts.link);
      }
      hosts.push(host);
    }
  } catch (err) {
    await close();
    throw new CwasiError('E_NETNS_UNAVAILABLE', `--netns: cannot set up the namespaces (everything made was removed): ${why(err)}`, { tag }, { cause: err });
  }
  const [a, b, r] = hosts as [NetnsHost, NetnsHost, NetnsHost];
  const hostIp = `${subnet}.1`;
  let nats: ServerProcess;
  let redis: ServerProcess;
  try {
    const track = (server: ServerProcess) => made.servers.push(server);
    nats = await startNats(hostIp, tag, track);
    redis = await startRedis(r, REDIS_PORT, tag, track);
  } catch (err) {
    await close();
    throw new CwasiError('E_NETNS_UNAVAILABLE', `--netns: a server did not start (everything made was removed): ${(err as Error).message}`, { tag }, { cause: err });
  }
  return {
    tag, hostIp, a, b, redis: r, nats: nats.url, redisUrl: redis.url, redisAddress: `${r.ip}:${REDIS_PORT}`, link: opts.link, names,
    describe: () => `three network namespaces on bridge ${names.bridge} (${subnet}.0/24): node A in ${a.ns} (${a.ip}), node B in ${b.ns} (${b.ip}), Redis in ${r.ns} (${r.ip}); NATS and the coordinator on the bridge (${hostIp}); ${opts.link === undefined ? 'links unshaped' : `every link shaped to ${opts.link.text} each way (tc tbf)`}`,
    close,
  };
}
