// Socket helpers for the Networked Buffer tests.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Resolves when `sock` has closed, whichever way the peer ended it. Not
 * `events.once(sock, 'close')`: that rejects on an `'error'` emitted first,
 * and Node 24 resets (ECONNRESET) rather than closes a connection the server
 * destroys with unread data, so the same correct server behaviour would pass
 * on Node 20 and fail on Node 24.
 */
export function socketClosed(sock: Socket): Promise<void> {
  if (sock.closed) return Promise.resolve();
  return new Promise((resolve) => sock.once('close', () => resolve()));
}

/** `n` loopback ports the kernel just handed out (bound, then closed again: free a moment ago). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** One loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
