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
// Both bounded: every child is killed after its deadline, and the sockets are
// closed in `finally`.

import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { READ_BUFFER_BYTES } from '../engine/net/options.js';

const SENDER = fileURLToPath(new URL('./net-ref-sender.js', import.meta.url));
const SEND_HOST = '127.0.0.2';
const RECV_HOST = '127.0.0.3';

function checkArgs(bytes: number, repeats: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 2 ** 31 - 1) throw new RangeError(`bytes must be a positive integer below 2 GiB, got ${bytes}`);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
}

/** `p` or a rejection after `ms` (the timer is cleared either way). */
async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait for a child process to exit, killing it after `graceMs`. */
async function reap(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(kill);
}

/**
 * Latencies (ms) of moving `bytes` from a sender process (127.0.0.2) to this
 * one (dialling from 127.0.0.3, reading with `onread` into one reused buffer)
 * over plain TCP, `repeats` times after one untimed repeat. Rejects when the
 * sender fails or exits early, or a step takes over `deadlineMs`.
 */
export async function measureRawTcpProcesses(bytes: number, repeats: number, readBufferBytes = READ_BUFFER_BYTES * 16, deadlineMs = 60_000): Promise<number[]> {
  checkArgs(bytes, repeats);
  const readBuf = Buffer.allocUnsafe(readBufferBytes);
  const child = spawn(process.execPath, [SENDER, SEND_HOST, String(bytes)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  let fail: (err: Error) => void = () => {};
  const died = (what: string) => fail(new Error(`the sender process ${what}: ${output.join('').trim()}`));
  child.once('exit', (code, signal) => died(`exited (${code ?? signal}) before the last repeat`));
  child.once('error', (err) => died(`failed to start (${err.message})`));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  let received = 0;
  let arrived: (() => void) | null = null;
  let sock: net.Socket | undefined;
  const samples: number[] = [];
  try {
    const port = await withDeadline(new Promise<number>((resolve, reject) => {
      fail = reject;
      let text = '';
      child.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /port (\d+)\n/.exec(text);
        if (m) resolve(Number(m[1]));
      });
    }), deadlineMs, 'the sender did not listen');
    await withDeadline(new Promise<void>((resolve, reject) => {
      fail = reject;
      sock = net.connect({
        host: SEND_HOST, port, localAddress: RECV_HOST, noDelay: true,
        onread: {
          buffer: readBuf,
          callback: (n: number) => {
            received += n;
            if (received >= bytes && arrived !== null) {
              const done = arrived;
              arrived = null;
              done();
            }
            return true;
          },
        },
      }, resolve);
      sock.on('error', (err) => fail(err));
    }), deadlineMs, 'the connection to the sender did not open');
    for (let i = -1; i < repeats; i++) {
      received = 0;
      const done = new Promise<void>((resolve, reject) => {
        arrived = resolve;
        fail = reject;
      });
      const t0 = performance.now();
      sock!.write('g');
      await withDeadline(done, deadlineMs, `repeat ${i + 2} of ${repeats + 1} did not arrive`);
      const ms = performance.now() - t0;
      if (i >= 0) samples.push(ms); // repeat -1 warms the connection and the sender's first write
    }
  } finally {
    fail = () => {};
    child.removeAllListeners('exit');
    (sock as net.Socket | undefined)?.destroy();
    child.kill('SIGTERM');
    await reap(child, 2000);
  }
  return samples;
}

/** iperf3's own figure, or why there is none. */
export type Iperf3Result =
  | { ok: true; gbPerSec: number; seconds: number; bytes: number; version: string }
  | { ok: false; reason: string };

/** A free TCP port on `host` (bound then released; iperf3 binds it next). */
async function freePort(host: string): Promise<number> {
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
 * iperf3 over loopback for `seconds` (1 to 10): a one-shot server on
 * 127.0.0.3 (flushing its output, so that "Server listening" is seen through
 * a pipe), a client from 127.0.0.2, the client's received rate from its
 * JSON report. Both processes are killed past `seconds` + 10 s; a run
 * that fails or times out is `{ ok: false, reason }`.
 */
export async function measureIperf3(seconds = 3): Promise<Iperf3Result> {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 10) throw new RangeError(`seconds must be an integer from 1 to 10, got ${seconds}`);
  const version = iperf3Version();
  if (version === undefined) return { ok: false, reason: 'iperf3 is not installed (Debian package iperf3)' };
  const port = await freePort(RECV_HOST);
  const deadlineMs = (seconds + 10) * 1000;
  const server = spawn('iperf3', ['-s', '-1', '--forceflush', '-B', RECV_HOST, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const c = spawn('iperf3', ['-c', RECV_HOST, '-B', SEND_HOST, '-p', String(port), '-t', String(seconds), '-J'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
