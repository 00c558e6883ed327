// The control-plane envelope on its own: a sealed message opens only for its
// context and secret, only once while fresh, and the bounded seen-nonce cache
// never lets a dropped nonce be replayed. A fake clock, no I/O.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ControlSigner, replyContext } from '../engine/cluster/signing.js';
import { throwsWith } from './helpers/assert-error.js';

const secret = new TextEncoder().encode('a-cluster-secret-of-enough-bytes');

function pair(opts: { windowMs?: number; maxNonces?: number } = {}) {
  let now = 1_000_000;
  const clock = { now: () => now, set: (t: number) => (now = t) };
  const a = new ControlSigner(secret, 'a', { now: clock.now, ...opts });
  const b = new ControlSigner(secret, 'b', { now: clock.now, ...opts });
  return { a, b, clock };
}

test('a sealed message opens for its context with its sender and body', () => {
  const { a, b } = pair();
  const { data } = a.seal('cwasi.c.node.b.run', { type: 'run', x: [1, 2] });
  const o = b.open<{ type: string; x: number[] }>('cwasi.c.node.b.run', data, true);
  assert.is(o.from, 'a');
  assert.equal(o.body, { type: 'run', x: [1, 2] });
});

test('another context, another secret, a changed byte or a changed sender are refused', () => {
  const { a, b } = pair();
  const { data } = a.seal('cwasi.c.node.b.run', { type: 'run' });
  throwsWith(() => b.open('cwasi.c.node.x.run', data, false), 'E_AUTH', /bad MAC/);
  const other = new ControlSigner(new TextEncoder().encode('another-secret-of-enough-bytes!!'), 'b');
  throwsWith(() => other.open('cwasi.c.node.b.run', data, false), 'E_AUTH', /bad MAC/);
  for (let i = 0; i < data.length; i += 7) {
    const bad = data.slice();
    bad[i] ^= 0x01;
    throwsWith(() => b.open('cwasi.c.node.b.run', bad, false), 'E_AUTH');
  }
  const text = new TextDecoder().decode(data).replace('"from":"a"', '"from":"z"');
  throwsWith(() => b.open('cwasi.c.node.b.run', new TextEncoder().encode(text), false), 'E_AUTH', /bad MAC/);
  throwsWith(() => b.open('x', new TextEncoder().encode('{"type":"deploy"}'), false), 'E_AUTH', /not sealed|malformed/);
  assert.ok(b.refused >= 4);
});

test('a fresh message opens once; outside the window it is refused', () => {
  const { a, b, clock } = pair({ windowMs: 1000 });
  const m = a.seal('s', { n: 1 }).data;
  b.open('s', m, true);
  throwsWith(() => b.open('s', m, true), 'E_AUTH', /replayed/);
  const late = a.seal('s', { n: 2 }).data;
  clock.set(1_000_000 + 1001);
  throwsWith(() => b.open('s', late, true), 'E_AUTH', /window/);
  // A reply is bound to its request nonce instead and needs no cache.
  const { nonce } = a.seal('s', { n: 3 });
  const reply = b.seal(replyContext(nonce), { ok: true }).data;
  assert.equal(a.open(replyContext(nonce), reply, false).body, { ok: true });
  throwsWith(() => a.open(replyContext('another'), reply, false), 'E_AUTH');
});

test('the nonce cache stays bounded, and a dropped nonce cannot be replayed', () => {
  const { a, b, clock } = pair({ windowMs: 10_000, maxNonces: 4 });
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) {
    clock.set(1_000_000 + i);
    const m = a.seal('s', { i }).data;
    sent.push(m);
    b.open('s', m, true);
    assert.ok(b.remembered <= 4, `${b.remembered} nonces held`);
  }
  for (const m of sent) throwsWith(() => b.open('s', m, true), 'E_AUTH', /replayed|remembers/);
  // Once the window has passed, expired nonces make room without raising the floor.
  clock.set(1_000_000 + 20_000);
  for (let i = 0; i < 4; i++) b.open('s', a.seal('s', { i }).data, true);
  assert.ok(b.remembered <= 4);
});

test.run();
