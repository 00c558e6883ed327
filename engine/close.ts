// What `engine.close(options)` does with calls still in flight: how long it
// waits for them (CloseOptions, checked here) and how it ends them after that.

import { CwasiError } from './errors.js';
import { checkKnownKeys } from './options-check.js';
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
    checkKnownKeys(options, 'close');
  } catch (err) {
    return err as CwasiError;
  }
  const { timeoutMs, force } = options;
  if (force !== undefined && typeof force !== 'boolean') return new CwasiError('E_CONFIG', `close: force must be true or false, got ${String(force)}`);
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
    return new CwasiError('E_CONFIG', `close: timeoutMs must be a number of milliseconds ≥ 0, got ${String(timeoutMs)}`);
  }
  if (force === true) return 0;
  return timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs;
}

/**
 * After `ms` (0: now), every invocation still in `invocations` ends with
 * E_CLOSED: a running guest has its worker terminated, a queued task is
 * cancelled. The timer goes when `closing` settles.
 */
export function abortAfter(invocations: Map<number, Invocation>, ms: number, closing: Promise<void> | undefined): void {
  const abortAll = () => {
    const why = ms === 0 ? 'the engine was closed with force' : `the engine was closed and its ${ms} ms for calls in flight ran out`;
    for (const inv of invocations.values()) inv.abort(new CwasiError('E_CLOSED', why));
  };
  if (ms === 0) return abortAll();
  const timer = setTimeout(abortAll, ms);
  void closing?.finally(() => clearTimeout(timer));
}
