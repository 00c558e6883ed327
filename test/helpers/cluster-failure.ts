// Shared by the failure-detection tests: the bound they assert and a wait
// for a transfer to be under way.
import { failureDetectionBoundMs } from '../../engine/cluster/liveness.js';

/** Nodes started by bench/cluster-harness.ts heartbeat at the default period. */
export const NODE_HEARTBEAT_MS = 1000;

/** The stated bound for a node beating every `heartbeatMs` (README, "Failure detection"). */
export function failureBoundMs(heartbeatMs = NODE_HEARTBEAT_MS): number {
  return failureDetectionBoundMs(heartbeatMs);
}

/**
 * Resolve true once `count()` reaches `atLeast`, false after `timeoutMs`;
 * checks on every turn of the event loop (the bytes move on it).
 */
export async function untilBytes(count: () => number, atLeast: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (count() < atLeast) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
}
