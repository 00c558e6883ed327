// The batch progress bar and the lines printed while it runs (a failed input,
// a result with its checksum): each line is printed on a line of its own,
// with the bar erased first and drawn again below it, never appended to the
// bar's text. Driven through a terminal-like stream that records every write.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { batchProgress } from '../engine/cli/progress.js';

class Tty extends Writable {
  isTTY = true;
  columns = 120;
  rows = 40;
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  cursorTo(x: number, y?: number | (() => void), cb?: () => void): boolean {
    this.text += `\x1b[${x + 1}G`;
    (typeof y === 'function' ? y : cb)?.();
    return true;
  }
  moveCursor(_dx: number, _dy: number, cb?: () => void): boolean {
    cb?.();
    return true;
  }
  clearLine(_dir: number, cb?: () => void): boolean {
    this.text += '\x1b[K';
    cb?.();
    return true;
  }
  clearScreenDown(cb?: () => void): boolean {
    cb?.();
    return true;
  }
  getWindowSize(): [number, number] {
    return [this.columns, this.rows];
  }
}

test('a line logged mid-run erases the bar, stands on its own line, and the bar comes back', () => {
  const tty = new Tty();
  const bar = batchProgress(true, 10, (line) => tty.write(`${line}\n`), tty);
  try {
    bar.tick();
    bar.tick();
    bar.log('failed in-03: E_FUNCTION_TRAP: unreachable');
    const at = tty.text.indexOf('failed in-03');
    assert.ok(at > 0, 'the line was written');
    assert.is(tty.text.slice(at - 5, at), '\r\x1b[2K', 'the bar is erased right before the line');
    const after = tty.text.slice(at);
    assert.match(after, /^failed in-03: E_FUNCTION_TRAP: unreachable\n/);
    assert.ok(after.slice(after.indexOf('\n')).includes('batch ['), `the bar is drawn again below the line: ${JSON.stringify(after)}`);
  } finally {
    bar.stop();
  }
});

test('lines can go through another writer (stdout on the same terminal)', () => {
  const tty = new Tty();
  const out: string[] = [];
  const bar = batchProgress(true, undefined, (line) => tty.write(`${line}\n`), tty);
  try {
    bar.tick();
    bar.log('in-01\t4096 bytes', (line) => {
      out.push(line);
      tty.write(`${line}\n`);
    });
    assert.equal(out, ['in-01\t4096 bytes']);
    assert.ok(tty.text.includes('\r\x1b[2Kin-01\t4096 bytes\n'));
  } finally {
    bar.stop();
  }
});

test('off a terminal there is no bar: lines go straight to their writer', () => {
  const plain = new Tty();
  plain.isTTY = false;
  const lines: string[] = [];
  const bar = batchProgress(true, 3, (line) => lines.push(line), plain);
  bar.tick();
  bar.log('failed a: E_INPUT: bad');
  bar.stop();
  assert.equal(lines, ['failed a: E_INPUT: bad']);
  assert.is(plain.text, '');
});

test('after stop, lines are written plainly', () => {
  const tty = new Tty();
  const lines: string[] = [];
  const bar = batchProgress(true, 3, (line) => lines.push(line), tty);
  bar.stop();
  const before = tty.text;
  bar.log('late line');
  assert.equal(lines, ['late line']);
  assert.is(tty.text, before);
});

test.run();
