// Line-rate references for `cwasi bench networked`, with the two ends in two
// processes like the engine rows (producer's node → consumer's node):
//
//   raw-tcp-2proc  a child `node` process (net-ref-sender.ts) listening on
//                  127.0.0.2 writes one preallocated buffer of the payload
//                  size to this process, which dials from 127.0.0.3 and reads
//                  with `onread` into one reused buffer (READ_BUFFER_BYTES ×
//                  16 unless told otherwise) and counts. Timed here, from the
//                  one-byte request to the last byte landed: one loopback
//                  round trip more than the data (tens of µs).
//   iperf3         iperf3 itself, when installed: a one-shot server on
//                  127.0.0.3 and a client from 127.0.0.2 for a bounded time
//                  (`-t`), its received rate read from its JSON report. It
//                  is the machine's TCP loopback ceiling, not a Node figure.
//
// Both take the two ends' addresses (`Ends`): loopback by default, or the
// two nodes' network namespaces of `--netns`, where every end is a process
// inside its namespace (the raw receiver then runs in net-ref-receiver.ts,
// the same loop as here, and prints its samples).
//
// Both bounded: every child is killed after its deadline, and the sockets are
// closed in `finally`.

import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { READ_BUFFER_BYTES } from 'cwasi/primitives';
import { receiveRepeats, withDeadline } from './net-ref-receive.js';

const SENDER = fileURLToPath(new URL('./net-ref-sender.js', import.meta.url));
const RECEIVER = fileURLToPath(new URL('./net-ref-receiver.js', import.meta.url));

/** Where one end runs: its address, and a command prefix that runs a process there (none: here, on this host). */
export interface End {
  host: string;
  wrap: string[];
}

/** The sending and the receiving end (the producer's node's place, the consumer's). */
export interface Ends {
  send: End;
  recv: End;
}

export const LOOPBACK_ENDS: Ends = { send: { host: '127.0.0.2', wrap: [] }, recv: { host: '127.0.0.3', wrap: [] } };
/** The longest delay setTimeout takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** iperf3's port inside a fresh namespace, where nothing else listens on it. */
const IPERF3_NS_PORT = 5201;

function checkArgs(bytes: number, repeats: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 2 ** 31 - 1) throw new RangeError(`bytes must be a positive integer below 2 GiB, got ${bytes}`);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
}

/** Wait for a child process to exit, killing it after `graceMs`. */
async function reap(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(kill);
}

/** A child `node` process running `script` at `end`, its stderr kept for reports. */
function spawnAt(end: End, script: string, args: string[]): { child: ChildProcess; output: string[] } {
  const command = [...end.wrap, process.execPath, script, ...args];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return { child, output };
}

/** Rejects when `child` exits or fails to start (its stderr in the message). */
function deathOf(child: ChildProcess, output: string[], what: string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal}) early: ${output.join('').trim()}`)));
    child.once('error', (err) => reject(new Error(`${what} failed to start (${err.message})`)));
  });
  p.catch(() => {});
  return p;
}

/** Resolves with the first match of `re` on the child's stdout. */
function lineOf(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m) resolve(m);
    });
  });
}

/**
 * Latencies (ms) of moving `bytes` from a sender process at `ends.send` to
 * a receiver at `ends.recv` (this process on loopback; its own process where
 * the end is in a namespace) over plain TCP, read with `onread` into one
 * reused buffer, `repeats` times after one untimed repeat. Rejects when an
 * end fails or exits early, or a step takes over `deadlineMs`.
 */
/** The CPU time (user + system, ms) each end spent per timed repeat, filled in by measureRawTcpProcesses when given. */
export interface RawCpu {
  sendMs: number[];
  recvMs: number[];
}

/** Every `cpu N` line the sender printed so far (one per write; the first is the untimed repeat's). */
function cpuLines(child: ChildProcess): number[] {
  const out: number[] = [];
  let text = '';
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const m = /^cpu ([\d.]+)$/.exec(text.slice(0, nl));
      if (m) out.push(Number(m[1]));
      text = text.slice(nl + 1);
    }
  });
  return out;
}

/**
 * `keep`: the receiver lands the bytes in a payload-sized buffer (net-ref-receive.ts) instead of one reused read buffer.
 * `cpu`: filled with each end's CPU time per timed repeat (a process of its own, or this one on loopback).
 */
export async function measureRawTcpProcesses(bytes: number, repeats: number, readBufferBytes = READ_BUFFER_BYTES * 16, deadlineMs = 60_000, ends: Ends = LOOPBACK_ENDS, keep = false, cpu?: RawCpu): Promise<number[]> {
  checkArgs(bytes, repeats);
  const sender = spawnAt(ends.send, SENDER, [ends.send.host, String(bytes)]);
  const senderDied = deathOf(sender.child, sender.output, 'the sender process');
  const senderCpu = cpuLines(sender.child);
  let receiver: ReturnType<typeof spawnAt> | undefined;
  try {
    const port = Number((await withDeadline(Promise.race([lineOf(sender.child, /port (\d+)\n/), senderDied]), deadlineMs, 'the sender did not listen'))[1]);
    const o = { host: ends.send.host, port, localAddress: ends.recv.host, bytes, repeats, readBufferBytes, deadlineMs };
    let samples: number[];
    if (ends.recv.wrap.length === 0) {
      samples = await receiveRepeats({ ...o, failed: senderDied, keep, ...(cpu !== undefined ? { cpuMs: cpu.recvMs } : {}) });
    } else {
      const r = spawnAt(ends.recv, RECEIVER, [...[o.host, o.port, o.localAddress, o.bytes, o.repeats, o.readBufferBytes, o.deadlineMs].map(String), ...(keep ? ['keep'] : [])]);
      receiver = r;
      const receiverDied = deathOf(r.child, r.output, 'the receiver process');
      const cpuLine = lineOf(r.child, /cpu (\[.*\])\n/);
      const m = await withDeadline(Promise.race([lineOf(r.child, /samples (\[.*\])\n/), senderDied, receiverDied]), Math.min(deadlineMs * (repeats + 2), MAX_TIMER_MS), 'the receiver did not report');
      samples = JSON.parse(m[1]!) as number[];
      if (cpu !== undefined) cpu.recvMs.push(...(JSON.parse((await withDeadline(cpuLine, 2000, 'the receiver did not report its CPU time'))[1]!) as number[]));
    }
    if (cpu !== undefined) {
      // The sender's last write callback may run just after the receiver got the last byte: wait for its line (bounded).
      for (let i = 0; i < 200 && senderCpu.length < repeats + 1; i++) await new Promise((r) => setTimeout(r, 10));
      if (senderCpu.length < repeats + 1) throw new Error(`the sender reported the CPU time of ${senderCpu.length} of ${repeats + 1} writes`);
      cpu.sendMs.push(...senderCpu.slice(1, repeats + 1));
    }
    return samples;
  } finally {
    for (const p of [receiver?.child, sender.child]) {
      if (p === undefined) continue;
      p.kill('SIGTERM');
      await reap(p, 2000);
    }
  }
}

/** iperf3's own figure, or why there is none. */
export type Iperf3Result =
  | { ok: true; gbPerSec: number; seconds: number; bytes: number; version: string }
  | { ok: false; reason: string };

/** A free TCP port on `host` (bound, then released for a server to bind next: iperf3, the netns bench's NATS and Redis). */
export async function freePort(host: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, () => resolve());
  });
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The installed iperf3's version line, or undefined when there is none on PATH. */
export function iperf3Version(): string | undefined {
  const r = spawnSync('iperf3', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]!.trim();
}

/**
 * iperf3 between `ends` for `seconds` (1 to 10): a one-shot server at the
 * receiving end (flushing its output, so that "Server listening" is seen
 * through a pipe), a client from the sending end, the client's received rate
 * from its JSON report. Both processes are killed past `seconds` + 10 s; a
 * run that fails or times out is `{ ok: false, reason }`.
 */
export async function measureIperf3(seconds = 3, ends: Ends = LOOPBACK_ENDS): Promise<Iperf3Result> {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 10) throw new RangeError(`seconds must be an integer from 1 to 10, got ${seconds}`);
  const version = iperf3Version();
  if (version === undefined) return { ok: false, reason: 'iperf3 is not installed (Debian package iperf3)' };
  const { send, recv } = ends;
  const port = recv.wrap.length > 0 ? IPERF3_NS_PORT : await freePort(recv.host);
  const deadlineMs = (seconds + 10) * 1000;
  const serverCmd = [...recv.wrap, 'iperf3', '-s', '-1', '--forceflush', '-B', recv.host, '-p', String(port)];
  const server = spawn(serverCmd[0]!, serverCmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let client: ChildProcess | undefined;
  try {
    const serverLog: string[] = [];
    await withDeadline(new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        serverLog.push(d.toString());
        if (/Server listening on/.test(serverLog.join(''))) resolve();
      };
      server.stdout!.on('data', onData);
      server.stderr!.on('data', onData);
      server.once('exit', (code) => reject(new Error(`iperf3 -s exited (${code}): ${serverLog.join('').trim()}`)));
    }), deadlineMs, 'iperf3 -s did not listen');
    const clientCmd = [...send.wrap, 'iperf3', '-c', recv.host, '-B', send.host, '-p', String(port), '-t', String(seconds), '-J'];
    const c = spawn(clientCmd[0]!, clientCmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    client = c;
    const out: string[] = [];
    c.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
    c.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
    const code = await withDeadline(new Promise<number | null>((resolve) => c.once('exit', (k) => resolve(k))), deadlineMs, 'iperf3 -c did not finish');
    let report: { end?: { sum_received?: { bits_per_second?: number; seconds?: number; bytes?: number } }; error?: string };
    try {
      report = JSON.parse(out.join('')) as typeof report;
    } catch {
      return { ok: false, reason: `iperf3 -c exited (${code}) without a JSON report: ${out.join('').slice(0, 200).trim()}` };
    }
    const sum = report.end?.sum_received;
    if (code !== 0 || sum?.bits_per_second === undefined || !(sum.bits_per_second > 0)) {
      return { ok: false, reason: `iperf3 -c failed (${code}): ${report.error ?? 'no received rate in its report'}` };
    }
    return { ok: true, gbPerSec: sum.bits_per_second / 8 / 1e9, seconds: sum.seconds ?? seconds, bytes: sum.bytes ?? 0, version };
  } catch (err) {
    // A reference that could not run is reported as absent, not as a failed bench.
    return { ok: false, reason: (err as Error).message };
  } finally {
    for (const p of [client, server]) {
      if (p === undefined) continue;
      p.kill('SIGTERM');
      await reap(p, 2000);
    }
  }
}
