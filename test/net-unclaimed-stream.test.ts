// Per-stream flow control: a stream nobody claims does not stall the other
// streams on its connection. Before credits, the unclaimed stream's bytes
// filled the connection's 8 MiB receive buffer, the connection stopped
// reading, and a second stream behind it never arrived until the first was
// claimed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetTransport, type IncomingStream } from '../engine/net/transport.js';
import { within } from './helpers/settle.js';
import { MiB, SEED, bytesEqual, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 43 + 1) & 0xff);
const WAIT_MS = 10_000;

function pattern(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) out[i] = Math.floor(rnd() * 256);
  out[n - 1] = seed & 0xff;
  return out;
}

test('an unclaimed stream does not stall a second stream on the same connection', async () => {
  const receiver = await NetTransport.listen({ secret: SECRET, nodeName: 'receiver', host: '127.0.12.3' });
  const sender = await NetTransport.listen({ secret: SECRET, nodeName: 'sender', host: '127.0.12.2' });
  const idle: IncomingStream[] = [];
  let claimed: (s: IncomingStream) => void = () => {};
  const second = new Promise<IncomingStream>((resolve) => {
    claimed = resolve;
  });
  receiver.on('stream', (s) => (s.meta.role === 'idle' ? idle.push(s) : claimed(s)));
  try {
    const address = `${receiver.address.host}:${receiver.address.port}`;
    // Larger than the connection's whole receive buffer (maxBufferedBytes, 8 MiB).
    const bigSize = 32 * MiB;
    const big = pattern(bigSize, SEED + 1);
    const idleOut = await sender.openStream(address, { role: 'idle' }, bigSize);
    let idleWritten = false;
    const idleWrite = idleOut.write(big).then(() => {
      idleWritten = true;
    });
    idleWrite.catch(() => {}); // awaited below; a failure before then is reported there
    // The second stream, opened behind it on the same connection.
    const small = pattern(4 * MiB, SEED + 2);
    const out = await within(sender.openStream(address, { role: 'busy' }, small.length), WAIT_MS, 'the second stream opens');
    const write = out.write(small);
    const s = await within(second, WAIT_MS, 'the second stream arrives');
    const dest = new Uint8Array(s.totalBytes);
    await within(Promise.all([s.receiveInto(dest), write, out.end()]), WAIT_MS, 'the second stream completes while the first is unclaimed');
    assert.ok(bytesEqual(dest, small), 'the second stream arrived intact');
    assert.is(sender.stats().connectionsOpened, 1, 'both streams shared one connection');

    const st = receiver.stats();
    assert.is(st.readPauses, 0, 'the connection never stopped reading');
    assert.is(idle.length, 1);
    assert.ok(idle[0]!.bytesReceived < bigSize && st.bufferedBytes === idle[0]!.bytesReceived, `the unclaimed stream holds ${st.bufferedBytes} bytes`);
    assert.ok(st.bufferedBytes <= 256 * 1024, 'no more than one credit window of it');
    assert.not.ok(idleWritten, 'its writer waits for credit');

    // Claimed late, it completes.
    const idleDest = new Uint8Array(bigSize);
    await within(Promise.all([idle[0]!.receiveInto(idleDest), idleWrite, idleOut.end()]), WAIT_MS, 'the first stream completes once claimed');
    assert.ok(bytesEqual(idleDest, big), 'the first stream arrived intact');
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test.run();
