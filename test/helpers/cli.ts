// Runs the real `cwasi` binary (bin/cwasi.js) in a child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = join(root, 'bin', 'cwasi.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for --out -). */
  stdoutBytes: Buffer;
}

/** Runs `cwasi args...` with `stdin` as its standard input (empty when not given). */
export function cwasiWithStdin(args: string[], stdin?: Uint8Array): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 120_000, maxBuffer: 64 << 20, encoding: 'buffer' }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: stdout.toString('utf8'),
        stderr: stderr.toString('utf8'),
        stdoutBytes: stdout,
      });
    });
    child.stdin!.end(stdin);
  });
}

export function cwasi(...args: string[]): Promise<CliResult> {
  return cwasiWithStdin(args);
}

/** Fails when `text` holds a stack frame line ("    at ..."). */
export function hasStack(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}

export function spawnCwasi(args: string[]): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}
