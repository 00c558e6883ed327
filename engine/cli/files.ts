// Files named on the command line. A missing file, a directory where a file
// was meant, a folder that cannot be written: one E_IO error naming the path
// and the reason, never a Node stack trace. `-` is stdin / stdout.

import { accessSync, constants, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CwasiError } from '../errors.js';

function reason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EISDIR': return 'is a directory, not a file';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'ENOSPC': return 'no space left on the device';
    default: return (err as Error).message;
  }
}

/** The bytes of `path` (`-`: all of stdin); E_IO naming `what` when it cannot be read. */
export function readArg(path: string, what: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    throw new CwasiError('E_IO', `${what} ${path === '-' ? 'stdin' : path}: ${reason(err)}`, { path }, { cause: err });
  }
}

/** The write failed because the reading end of the pipe closed. */
export function readerGone(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/** Writes `bytes` to `path` (`-`: stdout); E_IO naming `what` when it cannot be written. */
export async function writeArg(path: string, bytes: Uint8Array | string, what: string): Promise<void> {
  try {
    if (path !== '-') writeFileSync(path, bytes);
    // Through the stream, not fd 1: a pipe is non-blocking, so a synchronous write of a large output can fail with EAGAIN.
    // A reader that went away (EPIPE) takes no more output; that is not a failure of the command.
    else await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (err) => (err && !readerGone(err) ? reject(err) : resolve())));
  } catch (err) {
    throw new CwasiError('E_IO', `${what} ${path === '-' ? 'stdout' : path}: ${reason(err)}`, { path }, { cause: err });
  }
}

/**
 * Fails now, with E_IO, when `path` could not be written later (its folder is
 * missing or read-only, or it is a directory): a long run must not end in a
 * write error. `-` (stdout) always passes.
 */
export function checkWritable(path: string, what: string): void {
  if (path === '-') return;
  let target = path;
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CwasiError('E_IO', `${what} ${path}: ${reason(err)}`, { path }, { cause: err });
    target = dirname(resolve(path));
  }
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    throw new CwasiError('E_IO', `${what} ${path}: ${reason(err)}`, { path }, { cause: err });
  }
}

/**
 * Fails now, with E_IO, when a folder could not be made or written at `path`
 * later: it is a file, or the nearest folder that exists above it cannot be
 * written. Nothing is created.
 */
export function checkWritableDir(path: string, what: string): void {
  let target = resolve(path);
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(target).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(target) === target) throw new CwasiError('E_IO', `${what} ${path}: ${reason(err)}`, { path }, { cause: err });
      target = dirname(target);
      continue;
    }
    if (!isDirectory) throw new CwasiError('E_IO', `${what} ${path}: ${target === resolve(path) ? 'is a file, not a folder' : 'a part of the path is not a directory'}`, { path });
    break;
  }
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    throw new CwasiError('E_IO', `${what} ${path}: ${reason(err)}`, { path }, { cause: err });
  }
}

/** Makes the folder `path` and those above it; E_IO naming `what` when it cannot. */
export function makeDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw new CwasiError('E_IO', `${what} ${path}: ${reason(err)}`, { path }, { cause: err });
  }
}
