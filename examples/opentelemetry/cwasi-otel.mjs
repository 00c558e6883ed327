// cwasi's `cwasi:invoke` and `cwasi:edge` TracingChannels as OpenTelemetry
// spans. cwasi names every span with W3C ids (trace id, span id, parent span
// id) and carries them to workers and other nodes; the spans made here take
// exactly those ids, so a node's spans join the trace of the node that
// coordinated the call even across processes.
//
//   const ids = new CwasiIdGenerator();
//   const provider = new BasicTracerProvider({ idGenerator: ids, spanProcessors: [...] });
//   const stop = instrumentCwasi(provider.getTracer('cwasi'), ids);
//
// Pass the caller's span on as `traceparent` (see `traceparentOf`) so that
// cwasi's spans are children of it.

import diagnostics_channel from 'node:diagnostics_channel';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';

/** An IdGenerator that hands out the ids of the cwasi event being turned into a span (random ones otherwise). */
export class CwasiIdGenerator {
  #traceId;
  #spanId;

  /** The ids the next span must get (set right before a synchronous startSpan). */
  expect(traceId, spanId) {
    this.#traceId = traceId;
    this.#spanId = spanId;
  }

  generateTraceId() {
    const id = this.#traceId ?? randomHex(16);
    this.#traceId = undefined;
    return id;
  }

  generateSpanId() {
    const id = this.#spanId ?? randomHex(8);
    this.#spanId = undefined;
    return id;
  }
}

function randomHex(bytes) {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}

/** The W3C traceparent of an OpenTelemetry span, for `engine.invoke(..., { traceparent })`. */
export function traceparentOf(span) {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-0${c.traceFlags & TraceFlags.SAMPLED}`;
}

/** Subscribe to cwasi's channels; returns a function that unsubscribes. */
export function instrumentCwasi(tracer, ids) {
  const spans = new WeakMap();

  const start = (name, ev, attributes) => {
    // The parent is a span cwasi named: this process's own, or another node's.
    const parent = ev.parentSpanId === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, { traceId: ev.traceId, spanId: ev.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    ids.expect(ev.traceId, ev.spanId);
    spans.set(ev, tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent));
  };
  const finish = (ev, attributes) => {
    const span = spans.get(ev);
    if (span === undefined) return;
    span.setAttributes(attributes);
    if (ev.error !== undefined) {
      span.recordException(ev.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: ev.error.code ?? ev.error.message });
    }
    span.end();
  };

  const invoke = {
    start: (ev) => start(ev.remote ? `cwasi run ${ev.remote.steps.join(' → ')}` : `cwasi invoke ${ev.target}`, ev, {
      'cwasi.target': ev.target, 'cwasi.node': ev.node, 'cwasi.input_bytes': ev.inputBytes,
      ...(ev.remote ? { 'cwasi.coordinator': ev.remote.coordinator } : {}),
    }),
    asyncEnd: (ev) => finish(ev, { 'cwasi.output_bytes': ev.outputBytes ?? -1, 'cwasi.latency_ms': ev.latencyMs ?? -1 }),
  };
  const edge = {
    start: (ev) => start(`cwasi ${ev.kind} ${ev.from} → ${ev.to}`, ev, {
      'cwasi.edge.kind': ev.kind, 'cwasi.edge.from': ev.from, 'cwasi.edge.to': ev.to, 'cwasi.mode': ev.mode,
      'cwasi.node': ev.node, 'cwasi.copies': ev.copies,
    }),
    asyncEnd: (ev) => finish(ev, { 'cwasi.bytes': ev.bytes }),
  };
  const invokeChannel = diagnostics_channel.tracingChannel('cwasi:invoke');
  const edgeChannel = diagnostics_channel.tracingChannel('cwasi:edge');
  invokeChannel.subscribe(invoke);
  edgeChannel.subscribe(edge);
  return () => {
    invokeChannel.unsubscribe(invoke);
    edgeChannel.unsubscribe(edge);
  };
}
