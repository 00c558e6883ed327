// A landing gate: one 32-bit word in a SharedArrayBuffer that says whether
// the bytes of an input a worker was handed before they all arrived (the
// last frames of a networked stream, engine/cluster/stream-input.ts) have
// landed. The node's main thread writes it once; the worker waits on it
// before the function runs, so the task's dispatch overlaps the last bytes
// instead of following them.
//
// | offset | bytes | field | values                                        |
// |--------|-------|-------|-----------------------------------------------|
// | 0      | 4     | STATE | 0 LANDING, 1 LANDED, 2 FAILED (written once)  |

import { CwasiError } from '../errors.js';

export const GATE_LANDING = 0;
export const GATE_LANDED = 1;
export const GATE_FAILED = 2;
/** Bytes of a gate's buffer. */
export const GATE_BYTES = 4;
/** Longest single sleep of a waiting worker; it re-checks its deadline after it. */
const GATE_SLEEP_MS = 100;

/** A gate whose bytes are still landing. */
export function newGate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(GATE_BYTES));
}

/** Main thread: the bytes landed (or the stream failed); wake the worker waiting on the gate. */
export function openGate(gate: Int32Array, landed: boolean): void {
  Atomics.compareExchange(gate, 0, GATE_LANDING, landed ? GATE_LANDED : GATE_FAILED);
  Atomics.notify(gate, 0);
}

/**
 * Worker: block until the gate says LANDED. A gate that says FAILED ends
 * with E_CHANNEL (the node reports the stream's own error), a passed
 * deadline with E_TIMEOUT; anything but a gate's buffer is refused.
 */
export function waitForGate(buffer: unknown, deadline: number): void {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== GATE_BYTES) {
    throw new CwasiError('E_BAD_DESCRIPTOR', 'an input gate must be a SharedArrayBuffer of 4 bytes');
  }
  const gate = new Int32Array(buffer);
  for (;;) {
    const state = Atomics.load(gate, 0);
    if (state === GATE_LANDED) return;
    if (state !== GATE_LANDING) throw new CwasiError('E_CHANNEL', 'the input stream failed before all of it landed');
    const left = deadline - Date.now();
    if (left <= 0) throw new CwasiError('E_TIMEOUT', 'deadline passed while the input was landing');
    Atomics.wait(gate, 0, GATE_LANDING, Math.min(left, GATE_SLEEP_MS));
  }
}
