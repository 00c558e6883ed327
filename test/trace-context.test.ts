// W3C traceparent handling (engine/trace/context.ts): what parses, what is
// ignored as the specification asks, and the ids a span gets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { childSpan, parseTraceparent, startSpan } from '../engine/trace/context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('a valid traceparent parses into its parts', () => {
  assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, parentId: PARENT, flags: '01' });
  assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.flags, '00');
  // A later version may append fields; its first four are read.
  assert.equal(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-comes-next`)?.traceId, TRACE);
});

test('anything else is ignored', () => {
  for (const bad of [
    undefined, null, 42, '', 'garbage',
    `00-${TRACE.toUpperCase()}-${PARENT}-01`, // upper case
    `00-${'0'.repeat(32)}-${PARENT}-01`, // all-zero trace id
    `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
    `ff-${TRACE}-${PARENT}-01`, // version ff
    `00-${TRACE}-${PARENT}-01-extra`, // version 00 has exactly four fields
    `00-${TRACE.slice(1)}-${PARENT}-01`, // short trace id
    `00-${TRACE}-${PARENT}-1`, // short flags
    `00-${TRACE}-${PARENT}-01${'x'.repeat(600)}`, // oversized
  ]) {
    assert.is(parseTraceparent(bad), undefined, String(bad));
  }
});

test('a span under a valid traceparent keeps its trace id and flags; otherwise a new root', () => {
  const s = startSpan(`00-${TRACE}-${PARENT}-00`);
  assert.is(s.traceId, TRACE);
  assert.is(s.parentSpanId, PARENT);
  assert.match(s.spanId, /^[0-9a-f]{16}$/);
  assert.is(s.traceparent, `00-${TRACE}-${s.spanId}-00`);
  const root = startSpan('not one');
  assert.match(root.traceId, /^[0-9a-f]{32}$/);
  assert.is(root.parentSpanId, undefined);
  assert.is(root.traceparent, `00-${root.traceId}-${root.spanId}-01`);
  assert.ok(parseTraceparent(root.traceparent) !== undefined, 'a root is itself a valid traceparent');
});

test('a child span shares the trace, names its parent, and gets a fresh id', () => {
  const parent = startSpan(`00-${TRACE}-${PARENT}-01`);
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const c = childSpan(parent);
    assert.is(c.traceId, TRACE);
    assert.is(c.parentSpanId, parent.spanId);
    assert.is(c.traceparent, `00-${TRACE}-${c.spanId}-01`);
    ids.add(c.spanId);
  }
  assert.is(ids.size, 1000, 'span ids do not repeat');
});

test.run();
