// What cwasi publishes for observers: two diagnostics_channel TracingChannels
// and a debug log.
//
//   cwasi:invoke   one invocation on this node (engine.invoke / invokeWithReport /
//                  map's calls), or a segment this node runs for another node's
//                  invocation (`remote` set)
//   cwasi:edge     one edge an invocation moves: a workflow edge between two
//                  tasks (`kind: 'edge'`), an edge inside one task (`'chained'`),
//                  a guest-initiated call (`'call'`), or a Networked Buffer
//                  stream as the receiving node sees it (`'stream'`)
//
// Each follows TracingChannel's promise shape: `start` when the work begins,
// `end` right after (the synchronous part), then `asyncStart` and `asyncEnd`
// when it settles, with `error` before them when it failed (`context.error`).
// One context object travels through all of a span's events; fields filled in
// at the end (bytes, outputBytes, latencyMs) are set before `asyncStart`.
//
// Nothing is built or published while nobody subscribes: the dispatcher asks
// `invokeTracing.hasSubscribers` / `edgeTracing.hasSubscribers` once per call.
//
// NODE_DEBUG=cwasi prints one line per invocation, task, remote run and
// stream (util.debuglog), from the main thread and the workers.

import diagnostics_channel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { IfcMode } from '../selection.js';
import { childSpan, parseTraceparent, startSpan, type TraceContext } from './context.js';

/** The context of every `cwasi:invoke` event. */
export interface InvokeEvent {
  /** The function or workflow invoked; for a remote segment, its first step. */
  target: string;
  /** The engine node publishing the event (`hostName`, or the cluster node name). */
  node: string;
  /** This node's id of the invocation (0 until it is admitted). */
  invocationId: number;
  traceId: string;
  spanId: string;
  /** The caller's span (from `InvokeOptions.traceparent`, or the coordinating node's invocation); absent for a root. */
  parentSpanId: string | undefined;
  /** `00-<traceId>-<spanId>-<flags>`: the traceparent this invocation's work carries. */
  traceparent: string;
  /** Bytes of the input (-1 for a remote segment: its inputs arrive on their own). */
  inputBytes: number;
  /** Set when this node runs a segment of an invocation coordinated elsewhere. */
  remote?: { coordinator: string; steps: string[] };
  /** Bytes of the output (set on success). */
  outputBytes?: number;
  /** Milliseconds from start to settle. */
  latencyMs?: number;
  /** The CwasiError the invocation failed with (`error` event). */
  error?: unknown;
  /** What the call resolved with (set by TracingChannel on success). */
  result?: unknown;
}

/** The context of every `cwasi:edge` event. */
export interface EdgeEvent {
  kind: 'edge' | 'chained' | 'call' | 'stream';
  /** Producer (or caller) function; for `'stream'`, the sending node. */
  from: string;
  /** Consumer (or callee) function; for `'stream'`, the receiving node. */
  to: string;
  mode: IfcMode;
  /** The node publishing the event. */
  node: string;
  /** The invocation (this node's id) the edge belongs to; 0 for a stream. */
  invocationId: number;
  traceId: string;
  spanId: string;
  /** The invocation's span. */
  parentSpanId: string | undefined;
  traceparent: string;
  /** Payload bytes moved (-1 until known, or when not measured). */
  bytes: number;
  /** Copies of the payload the mode makes between buffers in user space (kernel socket copies not counted). */
  copies: number;
  error?: unknown;
}

/** The W3C ids every event carries, from the span it describes. */
export function spanFields(t: TraceContext): Pick<InvokeEvent, 'traceId' | 'spanId' | 'parentSpanId' | 'traceparent'> {
  return { traceId: t.traceId, spanId: t.spanId, parentSpanId: t.parentSpanId, traceparent: t.traceparent };
}

/** What an edge span is given; its ids come from the span made for it. */
type EdgeFields = Omit<EdgeEvent, 'traceId' | 'spanId' | 'parentSpanId' | 'traceparent'>;

export const invokeTracing = diagnostics_channel.tracingChannel<unknown, InvokeEvent>('cwasi:invoke');
export const edgeTracing = diagnostics_channel.tracingChannel<unknown, EdgeEvent>('cwasi:edge');

/** NODE_DEBUG=cwasi: `debug('...')` lines prefixed "CWASI <pid>:". Check `debug.enabled` before building a costly line. */
export const debug = debuglog('cwasi');

/** Whether a call should carry a trace: someone observes here, or the caller passed a traceparent. */
export function tracingWanted(traceparent: string | undefined): boolean {
  return traceparent !== undefined || invokeTracing.hasSubscribers || edgeTracing.hasSubscribers || debug.enabled;
}

/** One `cwasi:edge` span published by hand (the edge is not one function call). */
export class EdgeSpan {
  private settled = false;
  readonly event: EdgeEvent;

  constructor(parent: TraceContext, fields: EdgeFields) {
    this.event = { ...fields, ...spanFields(childSpan(parent)) };
    edgeTracing.start.publish(this.event);
    edgeTracing.end.publish(this.event);
  }

  /** Settle once: `error` first when it failed, then asyncStart and asyncEnd. */
  settle(error?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (error !== undefined) {
      this.event.error = error;
      edgeTracing.error.publish(this.event);
    }
    edgeTracing.asyncStart.publish(this.event);
    edgeTracing.asyncEnd.publish(this.event);
  }
}

/** An edge span when someone subscribes to `cwasi:edge` and the invocation carries a trace; else undefined. */
export function edgeSpan(parent: TraceContext | undefined, fields: EdgeFields): EdgeSpan | undefined {
  if (parent === undefined || !edgeTracing.hasSubscribers) return undefined;
  return new EdgeSpan(parent, fields);
}

/**
 * A `cwasi:edge` span (kind 'stream') for a Networked Buffer stream this node
 * receives from `from`, a child of the traceparent the stream's OPEN carried
 * (a new trace when it carried none or one that does not parse).
 */
export function streamSpan(node: string, from: string, traceparent: unknown, bytes: number): EdgeSpan | undefined {
  if (!edgeTracing.hasSubscribers) return undefined;
  const p = parseTraceparent(traceparent);
  const parent: TraceContext = p === undefined
    ? startSpan()
    : { traceId: p.traceId, spanId: p.parentId, parentSpanId: undefined, traceparent: traceparent as string };
  return new EdgeSpan(parent, { kind: 'stream', from, to: node, mode: 'networked', node, invocationId: 0, bytes, copies: 0 });
}

/** The traceparent a sealed cluster request carries, when it is a valid one. */
export function traceparentOf(req: { traceparent?: unknown }): string | undefined {
  return parseTraceparent(req.traceparent) === undefined ? undefined : req.traceparent as string;
}
