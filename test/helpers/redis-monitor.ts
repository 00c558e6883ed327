// A Redis MONITOR connection read by hand. ioredis's monitor() can fail its
// own start with "Command queue state error" when another client's command is
// echoed in the same read as MONITOR's +OK (the event arrives before it has
// switched modes; seen once in CI, the echoed command another client's "info").
// Here the socket speaks RESP itself: everything after +OK is an event line.

import { connect } from 'node:net';

export interface MonitorConnection {
  /** Stop monitoring and close the socket. */
  close(): void;
}

/** The one-letter escapes of sdscatrepr (others are \xHH). */
const ESC: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };

/** Unquote one MONITOR argument body (Redis writes it with sdscatrepr). */
function unquote(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ESC[e] ?? e));
}

/** The command and arguments of one event line: `<time> [<db> <addr>] "cmd" "arg" ...`. */
export function parseMonitorLine(line: string): string[] | undefined {
  const at = line.indexOf('] ');
  if (at < 0) return undefined;
  const args: string[] = [];
  const rest = line.slice(at + 2);
  for (const m of rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)) args.push(unquote(m[1]!));
  return args;
}

/** Connect, authenticate when the URL carries a password, send MONITOR and resolve once it is on. */
export function openMonitor(url: string, onEvent: (args: string[]) => void): Promise<MonitorConnection> {
  const u = new URL(url);
  const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
  socket.setEncoding('latin1');
  const auth = u.password ? [decodeURIComponent(u.username || 'default'), decodeURIComponent(u.password)] : undefined;
  return new Promise((resolve, reject) => {
    let buffered = '';
    let oksWanted = auth ? 2 : 1;
    socket.once('error', reject);
    socket.on('connect', () => {
      const cmd = (...a: string[]) => `*${a.length}\r\n${a.map((s) => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`).join('')}`;
      socket.write((auth ? cmd('AUTH', ...auth) : '') + cmd('MONITOR'));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\r\n'); nl >= 0; nl = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        if (oksWanted > 0) {
          if (line !== '+OK') {
            socket.destroy();
            reject(new Error(`redis MONITOR start: ${line}`));
            return;
          }
          if (--oksWanted === 0) resolve({ close: () => socket.destroy() });
          continue;
        }
        const args = line.startsWith('+') ? parseMonitorLine(line.slice(1)) : undefined;
        if (args !== undefined) onEvent(args);
      }
    });
  });
}
