// The receiving end of the two-process raw TCP reference in its own `node`
// process, for when it runs inside a network namespace (net-ref.ts):
//   node net-ref-receiver.js HOST PORT LOCAL BYTES REPEATS READ_BUFFER DEADLINE_MS
// It prints `cpu [ms, ...]` (its CPU time per repeat) and `samples [ms, ...]` on stdout and exits 0, or the failure on
// stderr and exits 1.

import { receiveRepeats } from './net-ref-receive.js';

const [host, portText, localAddress, ...rest] = process.argv.slice(2);
const keep = rest[4] === 'keep';
const [port, bytes, repeats, readBufferBytes, deadlineMs] = [portText, ...rest.slice(0, 4)].map(Number);
if (host === undefined || localAddress === undefined || rest.length < 4 || rest.length > 5 || (rest.length === 5 && !keep) || [port, bytes, repeats, readBufferBytes, deadlineMs].some((n) => !Number.isSafeInteger(n) || n! < 1)) {
  process.stderr.write('usage: net-ref-receiver HOST PORT LOCAL BYTES REPEATS READ_BUFFER DEADLINE_MS [keep] (positive integers)\n');
  process.exit(2);
}
const cpuMs: number[] = [];
receiveRepeats({ host, port: port!, localAddress, bytes: bytes!, repeats: repeats!, readBufferBytes: readBufferBytes!, deadlineMs: deadlineMs!, keep, cpuMs }).then(
  // The CPU line first: whoever reads the samples line has it already.
  (samples) => process.stdout.write(`cpu ${JSON.stringify(cpuMs)}\nsamples ${JSON.stringify(samples)}\n`, () => process.exit(0)),
  (err: Error) => {
    process.stderr.write(`net-ref-receiver: ${err.message}\n`);
    process.exit(1);
  },
);
