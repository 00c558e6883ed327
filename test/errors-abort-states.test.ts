// An abort or a deadline ends an invocation in each state of its task
// (dispatcher.ts, the table above Invocation): waiting for a replica,
// queued behind a busy worker, starting (the worker waits for its memory),
// running. Each ends with E_ABORTED / E_TIMEOUT within a bound, and the
// one-thread engine serves the next invocation afterwards (nothing burnt).
// States are reached through events (the dispatcher's message hook, queue
// order), never by sleeping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import type { RequestDispatcher } from '../engine/dispatcher.js';
import { rejectsWith } from './helpers/assert-error.js';
import { bytesEqual } from './helpers/env.js';
import { closeEngine, within } from './helpers/settle.js';

const BOUND_MS = 5000;
const LOOP = Uint8Array.of(1);

async function oneThread(): Promise<{ engine: Engine; dispatcher: RequestDispatcher }> {
  const engine = await Engine.create({ threads: 1 });
  await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'spin1', module: 'spin', replicas: 1 }, { name: 'identity', module: 'identity' }]);
  return { engine, dispatcher: (engine as unknown as { dispatcher: RequestDispatcher }).dispatcher };
}

async function serves(engine: Engine, what: string): Promise<void> {
  const data = workloads.produce(1000, 5);
  assert.ok(bytesEqual(await within(engine.invoke('identity', data), BOUND_MS, `identity after ${what}`), data));
  assert.is(engine.stats().invocations.inFlight, 0, `nothing in flight after ${what}`);
}

/** Abort `p` through `ac` and check the code and the bound. */
async function abortLands(ac: AbortController, p: Promise<unknown>, what: string): Promise<void> {
  const t = Date.now();
  ac.abort(what);
  await rejectsWith(within(p, BOUND_MS, what), 'E_ABORTED', new RegExp(what));
  assert.ok(Date.now() - t < BOUND_MS, `${what}: landed within ${BOUND_MS} ms`);
}

test('waiting for a replica: abort is E_ABORTED, deadline is E_TIMEOUT', async () => {
  const { engine } = await oneThread();
  try {
    const holder = new AbortController();
    const first = engine.invoke('spin1', LOOP, { signal: holder.signal, timeoutMs: 120_000 });
    const ac = new AbortController();
    await abortLands(ac, engine.invoke('spin1', LOOP, { signal: ac.signal, timeoutMs: 120_000 }), 'waiting-abort');
    await rejectsWith(within(engine.invoke('spin1', LOOP, { timeoutMs: 50 }), BOUND_MS, 'waiting-deadline'), 'E_TIMEOUT');
    await abortLands(holder, first, 'holder');
    await serves(engine, 'a replica wait');
  } finally {
    await closeEngine(engine, 5000);
  }
});

test('queued behind a busy worker: abort is E_ABORTED, deadline is E_TIMEOUT; the queued task never runs', async () => {
  const { engine } = await oneThread();
  try {
    const holder = new AbortController();
    const busy = engine.invoke('spin', LOOP, { signal: holder.signal, timeoutMs: 120_000 });
    const ac = new AbortController();
    // A queued spin that ran would take the worker for good: only the board can stop it.
    await abortLands(ac, engine.invoke('spin', LOOP, { signal: ac.signal, timeoutMs: 120_000 }), 'queued-abort');
    await rejectsWith(within(engine.invoke('spin', LOOP, { timeoutMs: 50 }), BOUND_MS, 'queued-deadline'), 'E_TIMEOUT');
    await abortLands(holder, busy, 'busy');
    await serves(engine, 'queued aborts');
  } finally {
    await closeEngine(engine, 5000);
  }
});

test('starting (the worker waits for its memory): abort is E_ABORTED and the worker never runs the guest', async () => {
  const { engine, dispatcher } = await oneThread();
  try {
    await serves(engine, 'warm-up');
    let release: (() => void) | undefined;
    let asked!: () => void;
    const sharing = new Promise<void>((resolve) => (asked = resolve));
    dispatcher.hooks.onWorkerMessage = (message, deliver) => {
      if ((message as { type?: string }).type === 'cwasi:share' && release === undefined) {
        release = deliver;
        asked();
      } else {
        deliver();
      }
    };
    const ac = new AbortController();
    const p = engine.invoke('spin', LOOP, { signal: ac.signal, timeoutMs: 120_000 });
    await within(sharing, 30_000, 'the worker asks for spin\'s memory');
    await abortLands(ac, p, 'starting-abort');
    dispatcher.hooks.onWorkerMessage = undefined;
    release!();
    await serves(engine, 'an abort while starting');
  } finally {
    await closeEngine(engine, 5000);
  }
});

test('running: abort is E_ABORTED, deadline is E_TIMEOUT, and the worker is replaced', async () => {
  const { engine, dispatcher } = await oneThread();
  try {
    let answered!: () => void;
    const got = new Promise<void>((resolve) => (answered = resolve));
    dispatcher.hooks.onWorkerMessage = (message, deliver) => {
      deliver();
      if ((message as { type?: string }).type === 'cwasi:share') answered();
    };
    const ac = new AbortController();
    const p = engine.invoke('spin', LOOP, { signal: ac.signal, timeoutMs: 120_000 });
    // Its memory is answered: the worker is in the guest's loop or about to read
    // the board a last time before entering it; either way only a kill stops it.
    await within(got, 30_000, 'spin\'s memory answered');
    dispatcher.hooks.onWorkerMessage = undefined;
    // A follow-up queued behind it runs only once the spinning worker is gone.
    const data = workloads.produce(700, 9);
    const next = engine.invoke('identity', data);
    await abortLands(ac, p, 'running-abort');
    assert.ok(bytesEqual(await within(next, BOUND_MS, 'identity queued behind the spin'), data));
    await rejectsWith(within(engine.invoke('spin', LOOP, { timeoutMs: 100 }), BOUND_MS, 'running-deadline'), 'E_TIMEOUT');
    await serves(engine, 'a running abort and deadline');
  } finally {
    await closeEngine(engine, 5000);
  }
});

test.run();
