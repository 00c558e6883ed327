// How the CLI reports failures: one line, `error E_CODE: message`, for every
// failure a user can cause (the stack only with --verbose), and an exit code
// by kind: 2 for a usage error (E_CONFIG), 1 for anything else.

import { CwasiError } from '../errors.js';

export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
}

/**
 * Thrown by a command that has already printed its failures (e.g. `validate`
 * with several files, one of them invalid): main exits with `exitCode` and
 * prints nothing more.
 */
export class Reported extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = 'Reported';
  }
}

/** Prints `err` as one line (plus its stack when `verbose`); returns the exit code. */
export function reportError(out: Out, err: unknown, verbose: boolean): number {
  if (err instanceof Reported) return err.exitCode;
  const e = err instanceof CwasiError ? err : undefined;
  const code = e?.code ?? 'E_INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  out.err(`error ${code}: ${message}`);
  if (verbose && err instanceof Error && err.stack !== undefined) {
    out.err(err.stack);
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.stack !== undefined) out.err(`caused by: ${cause.stack}`);
  }
  return code === 'E_CONFIG' ? 2 : 1;
}

/** The line for one of several items (a file of `validate`), its name first. */
export function itemError(name: string, err: unknown): string {
  if (!(err instanceof CwasiError)) return `error E_INTERNAL: ${name}: ${err instanceof Error ? err.message : String(err)}`;
  const message = err.message.startsWith(name) ? err.message : `${name}: ${err.message}`;
  return `error ${err.code}: ${message}`;
}
