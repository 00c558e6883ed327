// How a task's result leaves the worker: output bytes of TRANSFER_MIN_BYTES
// or more (the task's own, its continuation's) are transferred to the main
// thread (Piscina's move) instead of cloned a second time.

import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { TaskResult } from './protocol.js';

/** Outputs at least this large are transferred instead of cloned. */
const TRANSFER_MIN_BYTES = 64 * 1024;

export function transferOut(result: TaskResult): TaskResult {
  if (!result.ok) return result;
  const list: ArrayBuffer[] = [];
  if (result.bytes !== undefined && result.bytes.byteLength >= TRANSFER_MIN_BYTES) list.push(result.bytes.buffer as ArrayBuffer);
  const then = result.then;
  if (then?.ok === true && then.bytes !== undefined && then.bytes.byteLength >= TRANSFER_MIN_BYTES) list.push(then.bytes.buffer as ArrayBuffer);
  if (list.length === 0) return result;
  return move({ [transferableSymbol]: list, [valueSymbol]: result } as never) as unknown as TaskResult;
}
