// cwasi-test: exclusive (moves payloads at line rate between processes)
// The line-rate references of `cwasi bench networked` (bench/net-ref.ts): the
// two-process raw TCP reference moves the payload from a sender process and
// returns one sample per repeat and refuses bad arguments; iperf3 reports a rate when installed and says why not otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iperf3Version, measureIperf3, measureRawTcpProcesses } from '../bench/net-ref.js';

test('raw TCP between two processes: one positive sample per repeat, several sizes and read buffers', async () => {
  for (const [bytes, readBuffer] of [[1, 4096], [3 * 65536 + 7, 4096], [1 << 20, 4 << 20]] as const) {
    const samples = await measureRawTcpProcesses(bytes, 3, readBuffer);
    assert.is(samples.length, 3);
    for (const ms of samples) assert.ok(ms > 0 && Number.isFinite(ms), `${bytes}: ${ms}`);
  }
});

test('raw TCP between two processes refuses bad sizes and repeat counts', async () => {
  for (const [bytes, repeats] of [[0, 1], [1.5, 1], [2 ** 31, 1], [16, 0]]) {
    await measureRawTcpProcesses(bytes, repeats).then(() => assert.unreachable(`${bytes}/${repeats}`), (err: Error) => assert.instance(err, RangeError));
  }
});

test('iperf3: a rate when installed, else a reason naming the package', async () => {
  const r = await measureIperf3(1);
  if (iperf3Version() === undefined) {
    assert.is(r.ok, false);
    if (!r.ok) assert.match(r.reason, /iperf3 is not installed/);
  } else {
    assert.ok(r.ok, r.ok ? '' : r.reason);
    if (r.ok) assert.ok(r.gbPerSec > 0 && r.bytes > 0 && r.seconds > 0, JSON.stringify(r));
  }
  await measureIperf3(0).then(() => assert.unreachable('0 s'), (err: Error) => assert.instance(err, RangeError));
});

test.run();
