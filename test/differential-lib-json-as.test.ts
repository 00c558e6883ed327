// json-as (JSON for AssemblyScript, with a transform that writes the codecs):
// a guest that parses orders into typed classes, re-serialises them and keeps
// per-customer totals and the last orders in module state
// (test/fixtures/libs/json-as.ts) gives, through the engine, by every route,
// in long sequences on one instance and under concurrency, exactly the bytes
// plain asc gives; plain asc's bytes equal JSON.stringify of what
// JSON.parse read, with the same state kept in JavaScript.
//
// json-as keeps a global output buffer that it grows with heap.realloc: the
// state an arena reset once corrupted while the invocation still reported success.
import { SOURCE } from './fixtures/libs/json-as.js';
import { compileCwasi, compilePlain, differentialSuite, framed, writeGuestSource } from './helpers/differential.js';
import { order, orderText, reference } from './helpers/json-orders.js';

const ASC_ARGS = ['--transform', 'json-as'];
differentialSuite('json-as', {
  functions: async () => {
    const path = writeGuestSource('json-as', SOURCE);
    // One after the other: a transform may keep state of its own between runs of one compile.
    const plain = await compilePlain(path, ASC_ARGS);
    const cwasi = await compileCwasi(path, ASC_ARGS);
    return { fn: { name: 'json-as', plain, cwasi } };
  },
  input: (rnd, _i, history) => framed(history, new TextEncoder().encode(orderText(rnd, order(rnd)))),
  reference,
  stateful: true,
});
