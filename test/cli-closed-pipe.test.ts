// `cwasi ... | head`: the reader closes the pipe after the first chunk. The
// CLI neither crashes with EPIPE nor exits from the pipe's error handler:
// it finishes what it started, closes its engine and exits with its own code.
// Exiting at the EPIPE, with the engine's worker threads still alive, killed
// the process with SIGABRT once under --stress (round 5 of 20, seed 20261130);
// the report lines that follow the output on stderr now show the command ran
// to its end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { spawnCwasi } from './helpers/cli.js';

const cases: Array<{ args: string[]; stderrAfter?: RegExp }> = [
  // 4 MiB of output bytes: far more than a pipe holds, so the CLI is still writing when the pipe closes.
  { args: ['run', 'identity', '--size', '4MiB', '--out', '-'], stderrAfter: /^result\n[\s\S]*^time: /m },
  // The report itself on stdout: every line after the first goes to a closed pipe.
  { args: ['run', 'identity', '--size', '1KiB', '--repeat', '20'] },
];

for (const { args, stderrAfter } of cases) {
  test(`cwasi ${args.join(' ')} into a pipe closed after the first chunk`, async () => {
    const child = spawnCwasi(args);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Close the read end as soon as anything arrives, as `head -c 1` would.
    child.stdout!.once('data', () => child.stdout!.destroy());
    const [code, signal] = await once(child, 'exit') as [number | null, string | null];
    assert.is(signal, null, `killed by ${signal}; stderr:\n${stderr}`);
    assert.is(code, 0, stderr);
    assert.not.match(stderr, /EPIPE|Error/);
    if (stderrAfter) assert.match(stderr, stderrAfter, 'the command did not finish after the reader left');
  });
}

test.run();
