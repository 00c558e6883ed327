// An E_REDIS error names the server it could not use, but never its
// password: an engine configured with redis://user:password@host (the way
// managed Redis is usually reached) must not write the password into error
// messages, which end up in logs. Uses an address nothing listens on, so
// the failure is real and needs no second server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { redactUrl } from '../engine/channels/remote-kv.js';
import { rejectsWith } from './helpers/assert-error.js';
import { freePort } from './helpers/sockets.js';

const SECRET = 'p4ss-w0rd-not-for-logs';

test('an unreachable Redis with a password in its URL: E_REDIS names the host, not the password', async () => {
  const port = await freePort();
  const engine = await Engine.create({ threads: 1, timeoutMs: 20_000, redis: { url: `redis://app:${SECRET}@127.0.0.1:${port}/0` } });
  try {
    await engine.deploy({ name: 'kv', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c', mode: 'remote-kv' }] });
    const e = await rejectsWith(engine.invoke('kv', workloads.producerSpec(1000, 1)), 'E_REDIS');
    assert.not.ok(e.message.includes(SECRET), e.message);
    assert.ok(e.message.includes(`app:***@127.0.0.1:${port}`), e.message);
  } finally {
    await engine.close();
  }
});

test('redactUrl hides only the password, and shows nothing of a URL it cannot parse', () => {
  assert.is(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.is(redactUrl('redis://user@h:1'), 'redis://user@h:1');
  assert.is(redactUrl(`rediss://:${SECRET}@h:1/2`), 'rediss://:***@h:1/2');
  assert.is(redactUrl(`not a url ${SECRET}`), '(an unparsable Redis URL)');
});

test.run();
