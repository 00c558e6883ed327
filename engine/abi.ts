// Constants of the guest ABI (asm-functions/ABI.md) that the main thread and
// the workers share: status codes of call_start / call_wait, the exports a
// module must have, the layout of a slice in guest memory, the ABI version,
// and the one mapping from an engine error to the status a guest sees.
//
// Plain values only: this module loads nothing (no @assemblyscript/loader),
// so the main thread can import it without pulling in the worker's host.

import { CwasiError, type ErrorRecord } from './errors.js';

/** Status codes returned to the guest by call_start / call_wait (ABI.md). */
export const STATUS = {
  OK: 0,
  UNKNOWN_FUNCTION: -1,
  CALL_FAILED: -2,
  BAD_HANDLE: -3,
  ABORTED: -4,
  LIMIT: -5,
} as const;

export type GuestStatus = (typeof STATUS)[keyof typeof STATUS];

/** The version a module reports from `cwasi_abi_version`; any other is refused. */
/** 2: the guest heap is the instance's own, garbage-collected (region_grow, cwasi_rt_init). */
export const ABI_VERSION = 2;

/** Exports every cwasi module has (built with the cwasi SDK). */
export const REQUIRED_EXPORTS = ['cwasi_main', 'cwasi_abi_version', 'cwasi_rt_init', 'cwasi_rt_collect'] as const;

/** Bytes of shadow stack each instance gets by default (asc spills references there). */
export const SHADOW_STACK_BYTES = 64 * 1024;

// A slice in guest memory (an input-table entry, a call result):
//
//  ┌────────┬──────┬──────────────────────────┐
//  │ offset │ size │ field                    │
//  ├────────┼──────┼──────────────────────────┤
//  │ 0      │ 4    │ ptr (u32, little endian) │
//  │ 4      │ 4    │ len (u32, little endian) │
//  └────────┴──────┴──────────────────────────┘
export const SLICE_PTR = 0;
export const SLICE_LEN = 4;
export const SLICE_BYTES = 8;

/** A guest-call limit (depth, calls in flight): status -5, E_GUEST_CALL naming the limit. */
export function limitError(limit: string, message: string): CwasiError {
  return new CwasiError('E_GUEST_CALL', message, { limit });
}

export function isLimitError(e: CwasiError): boolean {
  return e.code === 'E_GUEST_CALL' && typeof e.details?.limit === 'string';
}

/** The limit a failure was caused by (its own, or one hit further down a chain), if any. */
export function limitOf(e: Pick<ErrorRecord, 'details'>): string | undefined {
  const limit = e.details?.limit;
  return typeof limit === 'string' ? limit : undefined;
}

/**
 * The status a guest sees for a call that failed with `e`. A failure caused
 * by a limit further down a chain (its details name the limit) is a limit
 * too, so every caller of a chain cut by a limit sees -5 (ABI.md).
 */
export function statusOf(e: Pick<ErrorRecord, 'code' | 'details'>): GuestStatus {
  if (limitOf(e) !== undefined) return STATUS.LIMIT;
  switch (e.code) {
    case 'E_UNKNOWN_FUNCTION':
      return STATUS.UNKNOWN_FUNCTION;
    case 'E_QUEUE_FULL':
    case 'E_PAYLOAD_TOO_LARGE':
    case 'E_MEMORY_LIMIT':
      return STATUS.LIMIT;
    case 'E_TIMEOUT':
    case 'E_ABORTED':
      return STATUS.ABORTED;
    default:
      return STATUS.CALL_FAILED;
  }
}
