// cwasi-test: exclusive (moves payloads at line rate between processes)
// The line-rate references of `cwasi bench networked` (bench/net-ref.ts): the
// two-process raw TCP reference moves the payload from a sender process and
// returns one sample per repeat (and, when asked, each end's CPU time per
// repeat: `cwasi bench stream`'s CPU floor) and refuses bad arguments; iperf3 reports a rate when installed and says why not otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iperf3Version, measureIperf3, measureRawTcpProcesses, type RawCpu } from '../bench/net-ref.js';

test('raw TCP between two processes: one positive sample per repeat, several sizes and read buffers', async () => {
  for (const [bytes, readBuffer] of [[1, 4096], [3 * 65536 + 7, 4096], [1 << 20, 4 << 20]] as const) {
    const samples = await measureRawTcpProcesses(bytes, 3, readBuffer);
    assert.is(samples.length, 3);
    for (const ms of samples) assert.ok(ms > 0 && Number.isFinite(ms), `${bytes}: ${ms}`);
  }
});

test('raw TCP: each end reports its CPU time per timed repeat, the receiver here or in a process of its own', async () => {
  const own = { send: { host: '127.0.0.2', wrap: ['env'] }, recv: { host: '127.0.0.3', wrap: ['env'] } };
  for (const ends of [undefined, own]) {
    const cpu: RawCpu = { sendMs: [], recvMs: [] };
    const samples = await measureRawTcpProcesses(8 << 20, 2, undefined, undefined, ends, false, cpu);
    assert.is(samples.length, 2);
    assert.is(cpu.sendMs.length, 2, 'one sender figure per timed repeat (the untimed one left out)');
    assert.is(cpu.recvMs.length, 2, 'one receiver figure per timed repeat');
    for (const ms of [...cpu.sendMs, ...cpu.recvMs]) assert.ok(ms > 0 && Number.isFinite(ms), `${ends === undefined ? 'here' : 'own process'}: ${ms}`);
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
