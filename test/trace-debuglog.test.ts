// NODE_DEBUG=cwasi: a child process with it set prints one line per
// invocation (main thread) and per task (worker thread), with the trace.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const index = new URL('../engine/index.js', import.meta.url).href;
const script = `
import { Engine } from ${JSON.stringify(index)};
const engine = await Engine.create({ threads: 1 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
await engine.invoke('identity', Uint8Array.of(1), { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
await engine.close();
`;

function run(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.is(r.status, 0, r.stderr);
  return r.stderr;
}

test('NODE_DEBUG=cwasi logs the invocation and its task with the trace id', () => {
  const err = run({ NODE_DEBUG: 'cwasi' });
  assert.match(err, /CWASI \d+: invoke identity #1 trace 00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01/);
  assert.match(err, /CWASI \d+: task \d+ identity on thread \d+ trace 00-4bf92f3577b34da6a3ce929d0e0e4736-/);
});

test('without it, nothing is logged', () => {
  assert.not.match(run({ NODE_DEBUG: '' }), /CWASI/);
});

test.run();
