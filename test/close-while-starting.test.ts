// close() right after create(), while worker threads are still loading the
// worker module: the engine waits for them before terminating the pool, so
// the process survives (Node 20 aborts the whole process when a thread is
// terminated inside require() of an ES module). Run in a child process so an
// abort shows up as an exit code rather than killing the test runner.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const engineUrl = new URL('../engine/index.js', import.meta.url).href;

const script = `
import { Engine } from ${JSON.stringify(engineUrl)};
let closed = 0;
for (let round = 0; round < 12; round++) {
  const engine = await Engine.create({ threads: { min: 4, max: 4 } });
  if (round % 2 === 1) {
    await engine.deploy({ name: 'id', module: 'identity' });
    const out = await engine.invoke('id', new Uint8Array([round]));
    if (out[0] !== round) throw new Error('wrong output in round ' + round);
  }
  await engine.close();
  closed++;
}
console.log('closed ' + closed);
`;

test('engines closed while their threads start leave the process running', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.is(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /closed 12/);
});

test.run();
