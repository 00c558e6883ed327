// The receiving end of the two-process raw TCP reference (net-ref.ts): dial
// the sender, then per repeat send one byte ('g') and time until `bytes` have
// landed, read with `onread` into one reused buffer, or (`keep`) into a
// buffer the size of the payload, each byte where it belongs, as a receiver
// that keeps what it receives (an engine node placing a function's input)
// must. Run in this process on
// loopback, or in its own process (net-ref-receiver.ts) inside a network
// namespace. Every wait is bounded.

import net from 'node:net';

/** `p` or a rejection after `ms` (the timer is cleared either way). */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ReceiveOptions {
  /** The sender's address and port. */
  host: string;
  port: number;
  /** The address to dial from. */
  localAddress: string;
  bytes: number;
  repeats: number;
  readBufferBytes: number;
  /** Bound of each step (connecting, each repeat). */
  deadlineMs: number;
  /** Rejects when the sender is known to have failed (never, where nobody watches it here). */
  failed?: Promise<never>;
  /** Land the bytes in a payload-sized buffer (touched before the timing) instead of one reused read buffer. */
  keep?: boolean;
  /** Filled with this process's CPU time (user + system, ms) of each timed repeat. */
  cpuMs?: number[];
}

/** This process's CPU time (user + system) since `from`, in ms. */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

/** One latency (ms) per repeat, after one untimed repeat that warms the connection and the sender's first write. */
export async function receiveRepeats(o: ReceiveOptions): Promise<number[]> {
  const readBuf = Buffer.allocUnsafe(o.readBufferBytes);
  const whole = o.keep === true ? Buffer.allocUnsafeSlow(o.bytes) : undefined;
  if (whole !== undefined) for (let at = 0; at < whole.length; at += 4096) whole[at] = 0;
  const failed = o.failed ?? new Promise<never>(() => {});
  let received = 0;
  let arrived: (() => void) | null = null;
  let sock: net.Socket | undefined;
  const samples: number[] = [];
  try {
    let broken!: Promise<never>;
    await withDeadline(Promise.race([failed, new Promise<void>((resolve, reject) => {
      sock = net.connect({
        host: o.host, port: o.port, localAddress: o.localAddress, noDelay: true,
        onread: {
          // Kept: each read lands at its offset in the payload (reads past it, which the protocol never sends, reuse its start).
          buffer: whole === undefined ? readBuf : () => whole.subarray(received < o.bytes ? received : 0, Math.min(o.bytes, (received < o.bytes ? received : 0) + o.readBufferBytes)),
          callback: (n: number) => {
            received += n;
            if (received >= o.bytes && arrived !== null) {
              const done = arrived;
              arrived = null;
              done();
            }
            return true;
          },
        },
      }, resolve);
      broken = new Promise<never>((_, fail) => {
        sock!.once('error', fail);
        sock!.once('close', () => fail(new Error('the sender closed the connection')));
      });
      broken.catch(reject);
    })]), o.deadlineMs, 'the connection to the sender did not open');
    for (let i = -1; i < o.repeats; i++) {
      received = 0;
      const done = new Promise<void>((resolve) => { arrived = resolve; });
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      sock!.write('g');
      await withDeadline(Promise.race([done, broken, failed]), o.deadlineMs, `repeat ${i + 2} of ${o.repeats + 1} did not arrive`);
      const ms = performance.now() - t0;
      if (i >= 0) {
        samples.push(ms);
        o.cpuMs?.push(cpuMsSince(c0));
      }
    }
  } finally {
    (sock as net.Socket | undefined)?.destroy();
  }
  return samples;
}
