// Networked Buffer micro benchmark: moving one payload over TCP loopback in
// this process, two ways, so that their ratio is measured in one run.
//
//   raw-tcp     plain node:net, receiver reading with `onread` into one reused
//               buffer (the reference row: the best Node does on this link)
//   transport   NetTransport: OPEN + 1 MiB DATA frames on an authenticated
//               connection, received into a destination view of a shared
//               WebAssembly.Memory, as a function's memory would be
//
// Both send from a view of a SharedArrayBuffer (a function's memory) without
// copying it in JS, and both time from the first byte handed to the sender to
// the last byte landed at the receiver. Sources and destinations are
// allocated and touched once, before the timed repeats, and one untimed
// repeat warms the connection. No CLI wiring: callers (bench/index.ts, a
// script) pick sizes and repeats and print.
//
// Goal (DESIGN.md §5): transport throughput ≥ 80% of raw-tcp at 100 MiB.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { NetTransport, READ_BUFFER_BYTES, type IncomingStream } from 'cwasi/primitives';

const HOST = '127.0.0.1';
const WASM_PAGE = 65536;

function checkArgs(bytes: number, repeats: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`bytes must be a positive integer, got ${bytes}`);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
}

/** A SharedArrayBuffer-backed source of `bytes`, every page written (first touch paid here, not in the timing). */
function sharedSource(bytes: number): Uint8Array {
  const src = new Uint8Array(new SharedArrayBuffer(Math.max(1, bytes)), 0, bytes);
  const pattern = randomBytes(Math.min(bytes, WASM_PAGE));
  for (let at = 0; at < bytes; at += pattern.length) src.set(pattern.subarray(0, Math.min(pattern.length, bytes - at)), at);
  return src;
}

/** A view of `bytes` of a shared WebAssembly.Memory, pre-touched. */
function wasmDestination(bytes: number): Uint8Array {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const dest = new Uint8Array(memory.buffer, 0, bytes);
  for (let at = 0; at < bytes; at += 4096) dest[at] = 1;
  return dest;
}

/**
 * Latencies (ms) of moving `bytes` over plain node:net on loopback: the
 * accepted side writes a view of a shared source, the dialling side reads
 * with `onread` into one reused buffer (READ_BUFFER_BYTES, the transport's
 * own read buffer, unless `readBufferBytes` says otherwise) and counts.
 */
export async function measureRawTcp(bytes: number, repeats: number, readBufferBytes = READ_BUFFER_BYTES): Promise<number[]> {
  checkArgs(bytes, repeats);
  const src = Buffer.from(sharedSource(bytes).buffer, 0, bytes);
  const readBuf = Buffer.allocUnsafe(readBufferBytes);
  let received = 0;
  let target = 0;
  let arrived: (() => void) | null = null;
  let reader: net.Socket | null = null;
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer({ noDelay: true }, (s) => {
      server.close();
      resolve(s);
    });
    server.listen(0, HOST, () => {
      const port = (server.address() as net.AddressInfo).port;
      reader = net.connect({
        host: HOST,
        port,
        noDelay: true,
        onread: {
          buffer: readBuf,
          callback: (n: number) => {
            received += n;
            if (received >= target && arrived !== null) {
              const done = arrived;
              arrived = null;
              done();
            }
            return true;
          },
        },
      });
      reader.on('error', () => {});
    });
  });
  const sender = await accepted;
  const samples: number[] = [];
  try {
    for (let i = -1; i < repeats; i++) {
      received = 0;
      target = bytes;
      const done = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const t0 = performance.now();
      sender.write(src);
      await done;
      const ms = performance.now() - t0;
      if (i >= 0) samples.push(ms); // repeat -1 warms the connection
    }
  } finally {
    sender.destroy();
    (reader as net.Socket | null)?.destroy();
  }
  return samples;
}

/**
 * Latencies (ms) of moving `bytes` through NetTransport on loopback: open a
 * stream, write the shared source in one write(), time until the receiver's
 * receiveInto (into a shared WebAssembly.Memory view) resolves.
 */
export async function measureTransport(bytes: number, repeats: number): Promise<number[]> {
  checkArgs(bytes, repeats);
  const secret = randomBytes(32);
  const src = sharedSource(bytes);
  const dest = wasmDestination(bytes);
  const sender = await NetTransport.listen({ secret, nodeName: 'bench-sender', host: HOST });
  const receiver = await NetTransport.listen({ secret, nodeName: 'bench-receiver', host: HOST });
  const peer = `${receiver.address.host}:${receiver.address.port}`;
  let landed: ((s: IncomingStream) => void) | null = null;
  receiver.on('stream', (s) => landed?.(s));
  const samples: number[] = [];
  try {
    await sender.connect(peer); // dial and authenticate outside the timing
    for (let i = -1; i < repeats; i++) {
      const received = new Promise<void>((resolve, reject) => {
        landed = (s) => s.receiveInto(dest).then(resolve, reject);
      });
      const t0 = performance.now();
      const out = await sender.openStream(peer, { bench: 'net-raw', repeat: i }, bytes);
      const sent = out.write(src).then(() => out.end());
      await received;
      const ms = performance.now() - t0;
      await sent;
      if (i >= 0) samples.push(ms); // repeat -1 warms the connection and the read path
    }
  } finally {
    await sender.close();
    await receiver.close();
  }
  return samples;
}
