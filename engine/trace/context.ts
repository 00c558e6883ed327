// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
// value an invocation carries across threads (RunTask, guest calls), TCP
// streams (the OPEN metadata) and NATS control messages (sealed run requests),
// so that every node's events of one call share its trace id.
//
//   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
//                 2 hex       32 hex       16 hex        2 hex        (lower case)
//
// A value that does not parse (wrong length, upper case, all-zero ids,
// version ff) is ignored, as the specification asks: the call starts a trace
// of its own instead of failing. Ids come from node:crypto.

import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** Sampled: this node records the call (trace-flags bit 0). */
const FLAG_SAMPLED = '01';

/** One span of a trace: the ids an event carries and the traceparent its children get. */
export interface TraceContext {
  /** 32 lower-case hex digits, shared by every span of the trace. */
  readonly traceId: string;
  /** 16 lower-case hex digits, this span's own id. */
  readonly spanId: string;
  /** The span this one is a child of (from an incoming traceparent, or the invocation's); absent for a root. */
  readonly parentSpanId: string | undefined;
  /** `00-<traceId>-<spanId>-<flags>`: what this span's children are started from. */
  readonly traceparent: string;
}

/** The parts of a valid traceparent, or undefined for anything else. */
export function parseTraceparent(value: unknown): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, parentId: parentId!, flags: flags! };
}

const ids = Buffer.alloc(24);

function randomHex(bytes: 8 | 16): string {
  randomFillSync(ids, 0, bytes);
  return ids.toString('hex', 0, bytes);
}

function span(traceId: string, parentSpanId: string | undefined, flags: string): TraceContext {
  const spanId = randomHex(8);
  return { traceId, spanId, parentSpanId, traceparent: `00-${traceId}-${spanId}-${flags}` };
}

/**
 * A span for work that starts here: a child of `incoming` when it is a valid
 * traceparent (its trace id and flags kept), else the root of a new trace.
 */
export function startSpan(incoming?: unknown): TraceContext {
  const parent = parseTraceparent(incoming);
  if (parent === undefined) return span(randomHex(16), undefined, FLAG_SAMPLED);
  return span(parent.traceId, parent.parentId, parent.flags);
}

/** A child span of `parent` (an edge of an invocation). */
export function childSpan(parent: TraceContext): TraceContext {
  return span(parent.traceId, parent.spanId, parent.traceparent.slice(53, 55));
}
