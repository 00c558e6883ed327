// engine.map(): a target applied to many inputs, with bounded concurrency and
// backpressure end to end.
//
// The window: an input is pulled from the source only while fewer than
// `concurrency` inputs are pulled and not yet taken by the consumer (running,
// waiting for a retry, or finished and waiting to be yielded). So memory is
// bounded by `concurrency`, never by the number of inputs, and a consumer that
// stops reading stops the intake. Ordered results wait in the window for the
// inputs before them; unordered ones are yielded as they finish.

import { CwasiError, asCwasiError, type ErrorCode } from '../errors.js';
import type { InputFill, InvokeOptions } from '../dispatcher.js';
import { resolveMapOptions, type ResolvedMapOptions } from '../options/index.js';

/** One input: bytes, bytes with a key, or a file read straight into the first function's memory. */
export type MapInput = Uint8Array | { key?: string; bytes: Uint8Array } | { key?: string; file: string };

/** What every MapResult carries, output or error. */
export interface MapResultBase {
  /** Position of the input in the source (0-based). */
  index: number;
  /** The input's key, when it had one (files: the path given). */
  key?: string;
  /** Invocations it took (1 + retries used). */
  attempts: number;
  /** Time of the last attempt, ms. */
  latencyMs: number;
}

export type MapResult =
  | (MapResultBase & { output: Uint8Array; error?: undefined })
  | (MapResultBase & { error: CwasiError; output?: undefined });

export interface MapOptions {
  // Defaults and the kind of value each takes: engine/options/spec.ts (MAP_OPTIONS).
  /** Inputs in flight or waiting to be consumed at once (default: 2 × the engine's maximum threads). */
  concurrency?: number;
  /** Yield results in input order (default true) or as they finish. */
  ordered?: boolean;
  /** Aborts the run: invocations in flight are aborted and the iterator rejects with E_ABORTED. (An engine closed under a run rejects it with E_CLOSED.) */
  signal?: AbortSignal;
  /**
   * 'continue' (default): a failed input is yielded as `{ error }` and the run
   * goes on. 'stop': the first failure (in input order when ordered) is the
   * last result; no more inputs are read and invocations of later inputs are aborted.
   */
  onError?: 'continue' | 'stop';
  /** Extra attempts for a failure whose code is in `retryOn` (default 0). */
  retries?: number;
  /** Codes worth retrying (default RETRYABLE_CODES). */
  retryOn?: readonly ErrorCode[];
  /** Longest wait before a retry, ms; a retry also starts as soon as another input of this run settles (default 100). */
  retryDelayMs?: number;
  /** Deadline of each attempt (default: the engine's). */
  timeoutMs?: number;
  modes?: InvokeOptions['modes'];
  /** Called when an input settles (its last attempt), before its result is yielded. */
  onSettled?: (result: MapResult) => void;
}

/**
 * Failures that a second attempt may not repeat: a worker that died, a
 * deadline under load, a full queue, a reset channel or connection, a service
 * that was down, a memory discarded as corrupt (the next attempt gets a fresh
 * one). Traps, function failures, bad input and limits are deterministic.
 */
export const RETRYABLE_CODES: readonly ErrorCode[] = [
  'E_WORKER_DIED', 'E_TIMEOUT', 'E_QUEUE_FULL', 'E_CHANNEL', 'E_NET', 'E_REDIS', 'E_NATS', 'E_MEMORY_CORRUPT',
];

export interface MapBackend {
  invoke(input: Uint8Array | InputFill, opts: InvokeOptions): Promise<Uint8Array>;
  openFile(path: string): Promise<InputFill>;
  defaultConcurrency: number;
}

type AnyIterator = Iterator<MapInput> | AsyncIterator<MapInput>;

function iteratorOf(inputs: Iterable<MapInput> | AsyncIterable<MapInput>): AnyIterator {
  if (inputs !== null && typeof inputs === 'object') {
    const a = (inputs as AsyncIterable<MapInput>)[Symbol.asyncIterator];
    if (typeof a === 'function') return a.call(inputs);
    const s = (inputs as Iterable<MapInput>)[Symbol.iterator];
    if (typeof s === 'function') return s.call(inputs);
  }
  throw new CwasiError('E_CONFIG', 'map() inputs must be an iterable or an async iterable');
}

/** Apply `backend.invoke` to every input; see MapOptions for the policy. */
export function mapInputs(backend: MapBackend, inputs: Iterable<MapInput> | AsyncIterable<MapInput>, options: MapOptions = {}): AsyncGenerator<MapResult, void, undefined> {
  const opts = resolveMapOptions(options, backend.defaultConcurrency, RETRYABLE_CODES);
  const source = iteratorOf(inputs);
  return new MapRun(backend, source, opts, options).results();
}

class MapRun {
  /** Pulled from the source and not yet taken by the consumer. */
  private outstanding = 0;
  private pulled = 0;
  private exhausted = false;
  private pulling = false;
  private intakeError: CwasiError | undefined;
  /** Ordered: finished results by index. Unordered: finished results in finishing order. */
  private readonly byIndex = new Map<number, MapResult>();
  private readonly queue: MapResult[] = [];
  private nextIndex = 0;
  /** Index of the failure that ends an onError 'stop' run. */
  private stopAt: number | undefined;
  private readonly running = new Map<number, AbortController>();
  private readonly settledAll: Array<() => void> = [];
  private wake: (() => void) | undefined;
  /** Wakes retries waiting for another input to settle. */
  private retryWaiters: Array<() => void> = [];
  private readonly userSignal: AbortSignal | undefined;

  constructor(
    private readonly backend: MapBackend,
    private readonly source: AnyIterator,
    private readonly opts: ResolvedMapOptions,
    private readonly raw: MapOptions,
  ) {
    this.userSignal = raw.signal;
  }

  async *results(): AsyncGenerator<MapResult, void, undefined> {
    const user = this.userSignal;
    const onAbort = () => {
      for (const c of this.running.values()) c.abort(abortReason(user!));
      this.notify();
    };
    user?.addEventListener('abort', onAbort, { once: true });
    try {
      this.pump();
      for (;;) {
        if (user?.aborted) throw abortReason(user);
        const r = this.take();
        if (r !== undefined) {
          // The engine closed under the run: no input after this one could run either.
          if (r.error?.code === 'E_CLOSED') throw r.error;
          this.outstanding--;
          const last = this.stopAt !== undefined && r.index === this.stopAt;
          if (!last) this.pump();
          yield r;
          if (last) return;
          continue;
        }
        if (this.exhausted && !this.pulling && this.outstanding === 0) {
          if (this.intakeError !== undefined) throw this.intakeError;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      user?.removeEventListener('abort', onAbort);
      this.exhausted = true;
      // Nothing of this run keeps running after the iterator ends.
      const stopped = new CwasiError('E_ABORTED', 'map(): the run ended before this input finished');
      for (const c of this.running.values()) c.abort(stopped);
      if (this.running.size > 0) await new Promise<void>((resolve) => this.settledAll.push(resolve));
      // Close the source. An async source still busy producing the next input
      // (say, waiting on a pipe) finishes that first; the run does not wait for it.
      const closing = Promise.resolve().then(() => this.source.return?.()).catch(() => {
        // the source's own cleanup failed; the run is over either way
      });
      if (!this.pulling) await closing;
    }
  }

  private take(): MapResult | undefined {
    if (this.opts.ordered) {
      const r = this.byIndex.get(this.nextIndex);
      if (r === undefined) return undefined;
      this.byIndex.delete(this.nextIndex);
      this.nextIndex++;
      return r;
    }
    return this.queue.shift();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Pull inputs while the window has room. One pull at a time: sources need not be re-entrant. */
  private pump(): void {
    if (this.pulling || this.exhausted || this.stopAt !== undefined) return;
    this.pulling = true;
    void (async () => {
      try {
        while (!this.exhausted && this.stopAt === undefined && this.outstanding < this.opts.concurrency && !this.userSignal?.aborted) {
          const next = await this.source.next();
          if (next.done === true) {
            this.exhausted = true;
            break;
          }
          // The run stopped or ended while the source was producing this one: it was never accepted.
          if (this.exhausted || this.stopAt !== undefined) break;
          const index = this.pulled++;
          this.outstanding++;
          this.start(index, next.value);
        }
      } catch (err) {
        // The source failed: read nothing more, finish what was accepted, then report it.
        this.exhausted = true;
        this.intakeError = asCwasiError(err, 'E_INPUT');
      } finally {
        this.pulling = false;
        this.notify();
      }
    })();
  }

  private start(index: number, item: MapInput): void {
    const ctl = new AbortController();
    this.running.set(index, ctl);
    void this.attempt(index, item, ctl).then((r) => this.settle(r));
  }

  private async attempt(index: number, item: MapInput, ctl: AbortController): Promise<MapResult> {
    const key = item instanceof Uint8Array ? undefined : typeof item === 'object' && item !== null && typeof item.key === 'string' ? item.key : undefined;
    const base = key === undefined ? { index } : { index, key };
    const invokeOpts: InvokeOptions = {
      signal: ctl.signal,
      ...(this.raw.timeoutMs !== undefined ? { timeoutMs: this.raw.timeoutMs } : {}),
      ...(this.raw.modes !== undefined ? { modes: this.raw.modes } : {}),
    };
    for (let attempts = 1; ; attempts++) {
      const t = performance.now();
      try {
        const output = await this.backend.invoke(await this.inputOf(item), invokeOpts);
        return { ...base, attempts, latencyMs: performance.now() - t, output };
      } catch (err) {
        const error = asCwasiError(err);
        if (attempts <= this.opts.retries && this.opts.retryOn.has(error.code) && !ctl.signal.aborted) {
          await this.retryPause(attempts, ctl.signal);
          if (!ctl.signal.aborted) continue;
        }
        return { ...base, attempts, latencyMs: performance.now() - t, error };
      }
    }
  }

  private async inputOf(item: MapInput): Promise<Uint8Array | InputFill> {
    if (item instanceof Uint8Array) return item;
    if (typeof item === 'object' && item !== null) {
      if ('bytes' in item && item.bytes instanceof Uint8Array) return item.bytes;
      if ('file' in item && typeof item.file === 'string') return this.backend.openFile(item.file);
    }
    throw new CwasiError('E_CONFIG', 'a map() input must be a Uint8Array, { key?, bytes } or { key?, file }');
  }

  /** Wait until another input of this run settles (room may have freed up) or the backoff passes. */
  private retryPause(attempt: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.retryWaiters = this.retryWaiters.filter((w) => w !== done);
        resolve();
      };
      this.retryWaiters.push(done);
      signal.addEventListener('abort', done, { once: true });
      timer = setTimeout(done, Math.min(this.opts.retryDelayMs * 2 ** (attempt - 1), 10 * this.opts.retryDelayMs));
    });
  }

  private settle(r: MapResult): void {
    this.running.delete(r.index);
    for (const w of this.retryWaiters.slice()) w();
    if (this.running.size === 0) for (const s of this.settledAll.splice(0)) s();
    if (this.stopAt !== undefined && (!this.opts.ordered || r.index > this.stopAt)) {
      // After a stop, inputs that finish later (unordered) or come later (ordered) are not reported.
      this.outstanding--;
      this.notify();
      return;
    }
    if (r.error?.code === 'E_CLOSED') this.exhausted = true;
    if (r.error !== undefined && this.opts.onError === 'stop') {
      // Ordered: this failure comes before any earlier stop point, so it becomes the stop point.
      this.stopAt = r.index;
      this.exhausted = true;
      // Ordered: inputs before the failure still finish and are reported; later ones are aborted.
      const stopped = new CwasiError('E_ABORTED', `map(): input ${r.index} failed and onError is 'stop'`);
      for (const [i, c] of this.running) if (!this.opts.ordered || i > r.index) c.abort(stopped);
      this.dropAfterStop();
    }
    try {
      this.raw.onSettled?.(r);
    } catch (err) {
      // A throwing callback ends the run like a failing source: nothing more is read.
      this.exhausted = true;
      this.intakeError ??= asCwasiError(err, 'E_CONFIG');
    }
    if (this.opts.ordered) this.byIndex.set(r.index, r);
    else this.queue.push(r);
    this.notify();
  }

  /** Forget finished results of inputs after the stopping failure (ordered). */
  private dropAfterStop(): void {
    if (!this.opts.ordered) return;
    for (const i of [...this.byIndex.keys()]) {
      if (i > this.stopAt!) {
        this.byIndex.delete(i);
        this.outstanding--;
      }
    }
  }
}

function abortReason(signal: AbortSignal): CwasiError {
  const r: unknown = signal.reason;
  if (r instanceof CwasiError && r.code === 'E_ABORTED') return r;
  return new CwasiError('E_ABORTED', `map(): aborted${r instanceof Error ? `: ${r.message}` : ''}`);
}
