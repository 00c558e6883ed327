// Ctrl-C during `cwasi run --repeat` on a terminal: the progress bar is
// stopped and the cursor shown again (ESC[?25h) before a line saying how
// many invocations completed, with their latency; the exit code is 130.
// The terminal is a real pseudo-terminal (util-linux `script`), and Ctrl-C is
// the ^C byte typed into it, so the line discipline sends the SIGINT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { bin, root } from './helpers/cli.js';

const REPEAT = 1_000_000;

test('Ctrl-C stops the run, restores the cursor and prints what completed', async () => {
  const cmd = `'${process.execPath}' '${bin}' run examples/sequential.json --size 64KiB --repeat ${REPEAT} --concurrency 1`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let typed = false;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Bounds the test only (a run that ignores ^C would go on for minutes).
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    // Type ^C once the bar shows completed invocations.
    if (!typed && new RegExp(`\\| [1-9]\\d*/${REPEAT}`).test(out)) {
      typed = true;
      child.stdin.write('\x03');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await exited;
  clearTimeout(watchdog);
  assert.ok(typed, `the progress bar never showed progress:\n${out}`);
  assert.is(code, 130, out.slice(-2000));
  const hid = out.indexOf('\x1b[?25l');
  const shown = out.lastIndexOf('\x1b[?25h');
  // (With one completed, the steady state is empty and has no figures.)
  const line = /interrupted: (\d+) of 1000000 invocations completed; (\d+) steady-state(: p50 .*, p90 .*, p99 .*, max .*, mean .*)?\r?$/m.exec(out);
  assert.ok(hid >= 0 && shown > hid, 'the cursor is hidden by the bar, then shown again');
  assert.ok(line !== null, `no summary line:\n${out.slice(-2000)}`);
  assert.ok(out.indexOf('interrupted:') > shown, 'the summary comes after the cursor is back');
  const completed = Number(line![1]);
  assert.ok(completed >= 1 && completed < REPEAT);
  // One at a time, so the cold first call is the first to complete.
  assert.is(Number(line![2]), completed - 1, 'the cold first call is not in the steady state');
  assert.not.match(out, /\n\s+at /, 'no stack');
});

test.run();
