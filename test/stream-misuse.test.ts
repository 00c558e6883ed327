// A streaming function that misuses the stream host functions ends with one
// typed error and leaves nothing behind: a read into its own (read-only)
// input and a write from outside its memory are E_BAD_DESCRIPTOR, an output
// stream beyond maxPayloadBytes is E_PAYLOAD_TOO_LARGE, a commit of more than
// was reserved and a stream_next slice outside the memory or in an input are
// E_BAD_DESCRIPTOR, reading past the
// deadline is E_TIMEOUT, a write after the end is refused (status -3), and
// reporting an output beside a stream, or never ending the stream, is
// E_WASM_INVALID. After each, the function's memory holds what it held before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, memoryInUse } from './helpers/settle.js';

const LIMIT = 1024 * 1024;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1, maxPayloadBytes: LIMIT });
  await engine.deploy({ name: 'probe', module: 'stream-probe' });
  // One good call first: the instance and its buffers exist before the baseline.
  await engine.invoke('probe', Uint8Array.of(5, 16, 0, 0, 0, 1, 2, 3));
});
test.after(async () => {
  await closeEngine(engine);
});

const CASES = [
  { mode: 0, code: 'E_BAD_DESCRIPTOR', message: /stream read into .* overlaps an input/ },
  { mode: 1, code: 'E_PAYLOAD_TOO_LARGE', message: /output stream of more than 1114112 bytes exceeds the limit of 1048576/ },
  { mode: 2, code: 'E_FUNCTION_FAILED', message: /write after the end refused/ },
  { mode: 3, code: 'E_WASM_INVALID', message: /both reported an output and wrote an output stream/ },
  { mode: 4, code: 'E_WASM_INVALID', message: /returned without ending its output stream/ },
  { mode: 6, code: 'E_BAD_DESCRIPTOR', message: /stream write \[4294901760, \+64\) is outside its memory/ },
  { mode: 7, code: 'E_TIMEOUT', message: /deadline/ },
  { mode: 9, code: 'E_BAD_DESCRIPTOR', message: /stream_commit of 17 bytes after a reservation of 16/ },
  { mode: 10, code: 'E_BAD_DESCRIPTOR', message: /stream_next slice \[4294901760, \+8\) is outside its memory/ },
  { mode: 11, code: 'E_BAD_DESCRIPTOR', message: /stream_next slice \[\d+, \+8\) overlaps an input \(inputs are read-only\)/ },
] as const;

for (const c of CASES) {
  test(`mode ${c.mode}: ${c.code}, and the memory holds what it held before`, async () => {
    const before = memoryInUse(engine, 'probe');
    const input = new Uint8Array(64);
    input[0] = c.mode;
    await rejectsWith(engine.invoke('probe', input, c.mode === 7 ? { timeoutMs: 150 } : {}), c.code, c.message);
    // Through the pool path as well (a report).
    await rejectsWith(engine.invokeWithReport('probe', input, c.mode === 7 ? { timeoutMs: 150 } : {}), c.code, c.message);
    // The function still works, and what the failed calls held was given back.
    await engine.invoke('probe', Uint8Array.of(5, 16, 0, 0, 0, 9));
    const after = memoryInUse(engine, 'probe');
    assert.is(after.liveArenas, before.liveArenas, 'no arena left live');
    assert.ok(after.inUse <= before.inUse, `bytes in use ${after.inUse} <= ${before.inUse}`);
  });
}

test.run();
