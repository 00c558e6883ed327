// A three-function workflow traced with OpenTelemetry: an application span,
// cwasi's invocation span under it, and one span per edge under that. The
// finished spans are printed as a tree.
//
//   npm install && node demo.mjs
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Engine } from 'cwasi';
import { CwasiIdGenerator, instrumentCwasi, traceparentOf } from './cwasi-otel.mjs';

const exporter = new InMemorySpanExporter();
const ids = new CwasiIdGenerator();
const provider = new BasicTracerProvider({ idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('demo');
const stop = instrumentCwasi(tracer, ids);

const engine = await Engine.create({ threads: 2 });
try {
  await engine.deploy({
    name: 'pipeline',
    functions: {
      producer: { module: 'producer', trusted: true, domain: 'demo' },
      transform: { module: 'transform', trusted: true, domain: 'demo' },
      checksum: { module: 'checksum' },
    },
    edges: [{ from: 'producer', to: 'transform' }, { from: 'transform', to: 'checksum' }],
  });
  const spec = new Uint8Array(8);
  new DataView(spec.buffer).setUint32(0, 64 * 1024, true); // bytes the producer writes
  const request = tracer.startSpan('handle request');
  await engine.invoke('pipeline', spec, { traceparent: traceparentOf(request) });
  request.end();
} finally {
  await engine.close();
  stop();
}

const spans = exporter.getFinishedSpans();
const children = (id) => spans.filter((s) => s.parentSpanContext?.spanId === id);
const print = (s, depth) => {
  const bytes = s.attributes['cwasi.bytes'];
  console.log(`${'  '.repeat(depth)}${s.name}${s.attributes['cwasi.mode'] ? ` [${s.attributes['cwasi.mode']}]` : ''}${bytes !== undefined ? ` ${bytes} bytes` : ''}`);
  for (const c of children(s.spanContext().spanId)) print(c, depth + 1);
};
for (const root of spans.filter((s) => s.parentSpanContext === undefined)) print(root, 0);
console.log(`trace ids: ${[...new Set(spans.map((s) => s.spanContext().traceId))].length}, spans: ${spans.length}`);
