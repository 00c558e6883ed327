// What `engine.close(options)` does with calls still in flight: how long it
// waits for them (CloseOptions, resolved by engine/options/) and how it ends
// them after that.

import { CwasiError } from './errors.js';
import { resolveCloseLimit } from './options/index.js';
import type { Invocation } from './dispatch/invocation.js';

/** `engine.close(options)`: how long calls in flight may take to finish. */
export interface CloseOptions {
  /** Wait at most this long (ms) for invocations in flight, then end them with E_CLOSED. Default: wait for them. */
  timeoutMs?: number;
  /** End invocations in flight at once with E_CLOSED. */
  force?: boolean;
}

/** The wait for calls in flight that `options` allow (ms), undefined for "until they finish", or the E_CONFIG error for bad options. */
export function closeLimit(options: CloseOptions): number | undefined | CwasiError {
  try {
    return resolveCloseLimit(options);
  } catch (err) {
    return err as CwasiError;
  }
}

/**
 * After `ms` (0: now), every invocation still in `invocations` ends with
 * E_CLOSED: a running guest has its worker terminated, a queued task is
 * cancelled. The timer goes when `closing` settles.
 */
export function abortAfter(invocations: Map<number, Invocation>, ms: number, closing: Promise<void> | undefined, lanes?: { abortAll(reason: CwasiError): void }): void {
  const abortAll = () => {
    const why = ms === 0 ? 'the engine was closed with force' : `the engine was closed and its ${ms} ms for calls in flight ran out`;
    for (const inv of invocations.values()) inv.abort(new CwasiError('E_CLOSED', why));
    lanes?.abortAll(new CwasiError('E_CLOSED', why));
  };
  if (ms === 0) return abortAll();
  const timer = setTimeout(abortAll, ms);
  void closing?.finally(() => clearTimeout(timer));
}
