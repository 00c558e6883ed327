// The sending end of the two-process raw TCP reference (net-ref.ts), run as
// its own `node` process: `node net-ref-sender.js HOST BYTES`.
// It fills one buffer of BYTES once, listens on HOST (an ephemeral port,
// printed as `port N` on stdout), accepts one connection and writes the
// whole buffer each time the receiver sends one byte ('g'); it exits when
// that connection closes. After each write it prints `cpu N`: that write's
// CPU time in ms. No framing: the bytes are the reference, as
// iperf3's are.

import net from 'node:net';

const [host, bytesText] = process.argv.slice(2);
const bytes = Number(bytesText);
if (host === undefined || !Number.isSafeInteger(bytes) || bytes < 1 || bytes > 2 ** 31 - 1) {
  process.stderr.write('usage: net-ref-sender HOST BYTES (1 <= BYTES < 2 GiB)\n');
  process.exit(2);
}
const payload = Buffer.allocUnsafeSlow(bytes);
for (let at = 0; at < bytes; at += 4096) payload[at] = at & 0xff; // first touch here, not in the timing
const server = net.createServer({ noDelay: true }, (socket) => {
  server.close();
  socket.on('data', (d: Buffer) => {
    // One write per 'g': the receiver asks for the next repeat only after the last one landed.
    // Each write's CPU time (user + system, ms, until the kernel took the last byte) as a `cpu N` line.
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== 0x67) continue;
      const c0 = process.cpuUsage();
      socket.write(payload, () => {
        const c = process.cpuUsage(c0);
        process.stdout.write(`cpu ${(c.user + c.system) / 1000}\n`);
      });
    }
  });
  socket.on('error', (err) => {
    process.stderr.write(`net-ref-sender: ${err.message}\n`);
    process.exit(1);
  });
  socket.on('close', () => process.exit(0));
});
server.listen(0, host, () => process.stdout.write(`port ${(server.address() as net.AddressInfo).port}\n`));
