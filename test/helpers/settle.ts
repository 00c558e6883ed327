// Helpers for the bad-input tests: every promise the engine accepted must
// settle, and a test must fail (never hang) when one does not. Also small
// readers of engine.stats() for leak checks.
import * as assert from 'uvu/assert';
import { CwasiError, type Engine, type ErrorCode } from '../../engine/index.js';

/**
 * Wait until every promise has settled; fail naming the ones still pending
 * after `ms`. The timer only bounds the wait: nothing is synchronised by it.
 */
export async function settleAll<T>(promises: ReadonlyArray<Promise<T>>, ms: number, what: string): Promise<Array<PromiseSettledResult<T>>> {
  const pending = new Set(promises.map((_, i) => i));
  promises.forEach((p, i) => {
    p.then(() => pending.delete(i), () => pending.delete(i));
  });
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
  });
  try {
    const outcome = await Promise.race([Promise.allSettled(promises), expired]);
    if (outcome === 'expired') {
      assert.unreachable(`${what}: ${pending.size} of ${promises.length} promises did not settle within ${ms} ms (index ${[...pending].join(', ')})`);
      throw new Error('unreachable');
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/** One promise, bounded: resolves or rejects like `p`, or fails after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const [r] = await settleAll([p], ms, what);
  if (r!.status === 'rejected') throw r!.reason;
  return r!.value;
}

/** Assert that a settled result is a rejection with a CwasiError of `code` whose message matches. */
export function expectRejected(r: PromiseSettledResult<unknown> | undefined, code: ErrorCode, message: RegExp | undefined, label: string): CwasiError {
  assert.ok(r !== undefined, `${label}: no result`);
  if (r!.status === 'fulfilled') {
    assert.unreachable(`${label}: expected ${code}, but it succeeded`);
    throw new Error('unreachable');
  }
  const err = r!.reason as unknown;
  assert.instance(err, CwasiError, `${label}: expected a CwasiError, got ${String(err)}`);
  const e = err as CwasiError;
  assert.is(e.code, code, `${label}: expected ${code}, got ${e.code}: ${e.message}`);
  if (message) assert.match(e.message, message, `${label}: message ${JSON.stringify(e.message)} does not match ${String(message)}`);
  return e;
}

/** Assert that a settled result is a success and return its value. */
export function expectFulfilled<T>(r: PromiseSettledResult<T> | undefined, label: string): T {
  assert.ok(r !== undefined, `${label}: no result`);
  if (r!.status === 'rejected') {
    const e = r!.reason as { code?: string; message?: string };
    assert.unreachable(`${label}: expected success, got ${e?.code ?? ''} ${e?.message ?? String(r!.reason)}`);
    throw new Error('unreachable');
  }
  return r!.value;
}

/** Memory held by live arenas of the memory group that `fn` belongs to (thread caches excluded). */
export function memoryInUse(engine: Engine, fn: string): { inUse: number; liveArenas: number } {
  const g = engine.stats().memory.find((m) => m.members.includes(fn));
  assert.ok(g !== undefined, `no memory group holds ${fn}`);
  return { inUse: g!.bytesInUse - g!.cachedBytes, liveArenas: g!.liveArenas };
}

/**
 * Close an engine in test.after without hanging the file: when close() does
 * not finish (an accepted invocation never settled), say so and exit with a
 * failure once uvu has printed its summary.
 */
export async function closeEngine(engine: Engine | undefined, ms = 15_000): Promise<void> {
  if (engine === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    engine.close().then(() => 'closed' as const, (err: unknown) => err),
    new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'closed') return;
  const why = outcome === 'expired' ? `did not finish within ${ms} ms: an accepted invocation never settled` : `failed: ${String(outcome)}`;
  console.error(`engine.close() ${why}`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 500);
}

/**
 * Until `cond()` holds, checked every `everyMs`; fails naming `what` after
 * `ms`. For state another process or thread changes that no event announces
 * (stats counters); resolves with how long it took.
 */
export async function until(cond: () => boolean, ms: number, what: string, everyMs = 10): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.unreachable(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return Date.now() - t0;
}
