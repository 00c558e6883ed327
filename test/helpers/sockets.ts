// Socket helpers for the Networked Buffer tests.
import type { Socket } from 'node:net';

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
