// The workers' call lanes of an engine (engine/lane/), as tests observe
// them: every lane, the calls in its slots and each slot's state word (read
// from the shared memory both threads use), and waits bounded by turns of
// the event loop, never by sleeping.
import type { Engine } from '../../engine/index.js';
import type { RequestDispatcher } from '../../engine/dispatcher.js';
import type { CallLane, LaneCall } from '../../engine/lane/lane.js';
import type { LaneSet } from '../../engine/lane/lanes.js';

export { STATE_CANCELLED, STATE_CLAIMED, STATE_DONE, STATE_FREE, STATE_POSTED } from '../../engine/lane/layout.js';

export function laneSet(engine: Engine): LaneSet {
  const set = (engine as unknown as { dispatcher: RequestDispatcher }).dispatcher.lanes;
  if (set === undefined) throw new Error('this engine runs without call lanes');
  return set;
}

export function lanesOf(engine: Engine): CallLane[] {
  return (laneSet(engine) as unknown as { lanes: CallLane[] }).lanes;
}

/** The call in a lane whose input is `input` (the very array passed to invoke). */
export function callOf(engine: Engine, input: Uint8Array): { lane: CallLane; call: LaneCall } | undefined {
  for (const lane of lanesOf(engine)) {
    for (const call of lane.pending()) if (call.input === input) return { lane, call };
  }
  return undefined;
}

/** Resolve once `cond()` holds, checking on later turns of the event loop; fail after `limitMs`. */
export async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Every started worker has said hello with its lane. */
export async function lanesReady(engine: Engine, n: number): Promise<void> {
  await until(() => laneSet(engine).size >= n, `${n} call lanes`);
}
