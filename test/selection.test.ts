// IFC selection follows the paper's rules, in order, and explains itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IFC_MODES } from '../engine/index.js';
import { embedRefusal, selectMode, type Placement } from '../engine/selection.js';

const p = (name: string, over: Partial<Placement> = {}): Placement => ({
  name, host: 'h1', trusted: true, domain: 'd', group: 'h1/domain:d', ...over,
});

test('trusted, same domain, same host and group → embedded', () => {
  const s = selectMode(p('a'), p('b'));
  assert.is(s.mode, 'embedded');
  assert.match(s.reason, /trusted/);
});

test('untrusted caller or callee → local, naming who is untrusted', () => {
  assert.equal(selectMode(p('a', { trusted: false, group: 'h1/fn:a' }), p('b')).mode, 'local');
  const s = selectMode(p('a'), p('b', { trusted: false, group: 'h1/fn:b' }));
  assert.is(s.mode, 'local');
  assert.match(s.reason, /b is not trusted/);
});

test('other trust domain → local', () => {
  const s = selectMode(p('a'), p('b', { domain: 'e', group: 'h1/domain:e' }));
  assert.is(s.mode, 'local');
  assert.match(s.reason, /trust domains differ/);
});

test('different hosts → networked, whatever the trust', () => {
  for (const trusted of [true, false]) {
    const s = selectMode(p('a', { trusted }), p('b', { host: 'h2', trusted, group: 'h2/domain:d' }));
    assert.is(s.mode, 'networked');
    assert.match(s.reason, /h1 → h2/);
  }
});

test('remote-kv and copy are never chosen without an override', () => {
  const pairs: Array<[Placement, Placement]> = [
    [p('a'), p('b')],
    [p('a', { trusted: false }), p('b')],
    [p('a'), p('b', { host: 'h2' })],
  ];
  for (const [a, b] of pairs) assert.not.ok(['remote-kv', 'copy'].includes(selectMode(a, b).mode));
});

test('an override forces the mode and says what the rules would choose', () => {
  for (const mode of ['copy', 'remote-kv', 'local'] as const) {
    const s = selectMode(p('a'), p('b'), mode);
    assert.is(s.mode, mode);
    assert.match(s.reason, /forced/);
    assert.match(s.reason, /embedded/);
  }
});

test('an embedded override is refused where embedding is not allowed', () => {
  const s = selectMode(p('a'), p('b', { trusted: false, group: 'g2' }), 'embedded');
  assert.is(s.mode, 'local');
  assert.ok(s.refused !== undefined && /not trusted/.test(s.refused));
  assert.is(s.refusedCode, 'E_EMBED_REFUSED');
  const cross = selectMode(p('a'), p('b', { host: 'h2' }), 'local');
  assert.is(cross.mode, 'networked');
  assert.ok(cross.refused !== undefined);
});

test('embedRefusal is undefined exactly when embedding is allowed', () => {
  assert.is(embedRefusal(p('a'), p('b')), undefined);
  assert.ok(embedRefusal(p('a'), p('b', { group: 'other' })));
  assert.equal([...IFC_MODES].sort(), ['copy', 'embedded', 'local', 'networked', 'remote-kv']);
});

test.run();
