// File inputs of batch runs. A file is read from disk straight into the first
// function's memory: the dispatcher places an arena there and hands this
// module a view of it (an InputFill), and one `read` fills the view — no
// Buffer in between. The counters prove it: `reads` read calls moved `bytes`
// bytes for `files` files, `intoMemory` of them into a function memory and
// `viaBuffer` into a plain buffer (targets with several entry functions, or an
// entry on another node).

import { open, stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { glob } from 'tinyglobby';
import { CwasiError } from '../errors.js';
import type { InputFill } from '../dispatcher.js';

export interface FileInputStats {
  /** Files read completely. */
  files: number;
  /** `read` calls made (one per file unless the file shrank under us or the kernel returned short). */
  reads: number;
  bytes: number;
  /** Files read straight into a function memory. */
  intoMemory: number;
  /** Files read into a plain buffer first. */
  viaBuffer: number;
}

export class FileInputs {
  readonly counters: FileInputStats = { files: 0, reads: 0, bytes: 0, intoMemory: 0, viaBuffer: 0 };

  constructor(private readonly maxBytes: number) {}

  /** An InputFill for the file at `path` (its size is taken now; a file that changes before it is read fails with E_INPUT). */
  async open(path: string): Promise<InputFill> {
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new CwasiError('E_INPUT', `${path} is not a regular file`);
      size = st.size;
    } catch (err) {
      if (err instanceof CwasiError) throw err;
      throw new CwasiError('E_INPUT', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (size > this.maxBytes) {
      throw new CwasiError('E_PAYLOAD_TOO_LARGE', `${path}: ${size} bytes exceeds the limit of ${this.maxBytes}`);
    }
    const counters = this.counters;
    return {
      byteLength: size,
      async fill(into: Uint8Array, inMemory: boolean): Promise<void> {
        if (into.byteLength !== size) throw new CwasiError('E_INTERNAL', `${path}: a place of ${into.byteLength} bytes for ${size}`);
        let fh;
        try {
          fh = await open(path, 'r');
        } catch (err) {
          throw new CwasiError('E_INPUT', `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        try {
          const st = await fh.stat();
          if (st.size !== size) throw new CwasiError('E_INPUT', `${path} changed size (${size} → ${st.size} bytes) before it was read`);
          let done = 0;
          // Normally one read; a short read only at EOF (the file was truncated meanwhile).
          while (done < size) {
            counters.reads++;
            const { bytesRead } = await fh.read(into, done, size - done, done);
            if (bytesRead === 0) throw new CwasiError('E_INPUT', `${path} ended after ${done} of ${size} bytes`);
            done += bytesRead;
          }
        } catch (err) {
          if (err instanceof CwasiError) throw err;
          throw new CwasiError('E_INPUT', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        } finally {
          await fh.close();
        }
        counters.files++;
        counters.bytes += size;
        if (inMemory) counters.intoMemory++;
        else counters.viaBuffer++;
      },
    };
  }
}

/** One file of a batch: `key` is its path relative to the folder or glob base (names its result). */
export interface FileItem {
  key: string;
  file: string;
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * The files a `--inputs` argument names: every regular file under a folder
 * (recursively), or those matching a glob, sorted by key so that runs (and
 * resumed runs) see them in one order.
 */
export async function listFiles(spec: string, cwd = process.cwd()): Promise<FileItem[]> {
  let base: string;
  let paths: string[];
  if (!GLOB_CHARS.test(spec)) {
    base = resolve(cwd, spec);
    let st;
    try {
      st = await stat(base);
    } catch (err) {
      throw new CwasiError('E_INPUT', `--inputs ${spec}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!st.isDirectory()) throw new CwasiError('E_INPUT', `--inputs ${spec} is neither a folder nor a glob`);
    paths = await glob('**/*', { cwd: base, absolute: true, onlyFiles: true, dot: false });
  } else {
    // The base is the part of the pattern before its first glob character.
    const cut = spec.slice(0, spec.search(GLOB_CHARS));
    const slash = Math.max(cut.lastIndexOf('/'), cut.lastIndexOf(sep));
    base = resolve(cwd, slash < 0 ? '.' : cut.slice(0, slash) || '/');
    paths = await glob(spec, { cwd, absolute: true, onlyFiles: true, dot: false });
  }
  return paths
    .map((file) => ({ key: relative(base, file).split(sep).join('/'), file }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
