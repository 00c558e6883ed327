// `cwasi ... | head`: the reader closes the pipe after the first line. The
// CLI stops quietly with its exit code instead of crashing with EPIPE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { spawnCwasi } from './helpers/cli.js';

// 4 MiB of output bytes: far more than a pipe holds, so the CLI is still writing when the pipe closes.
for (const args of [['run', 'identity', '--size', '4MiB', '--output', '-']]) {
  test(`cwasi ${args.join(' ')} into a pipe closed after the first chunk`, async () => {
    const child = spawnCwasi(args);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Close the read end as soon as anything arrives, as `head -c 1` would.
    child.stdout!.once('data', () => child.stdout!.destroy());
    const [code, signal] = await once(child, 'exit') as [number | null, string | null];
    assert.is(signal, null);
    assert.is(code, 0, stderr);
    assert.not.match(stderr, /EPIPE|Error/);
  });
}

test.run();
