// Node names are bound: a second live node cannot start under a name that a
// live node holds (it may once that node is gone), and with TLS the name a
// node claims in the Networked Buffer handshake must be in its certificate
// (subject CN or DNS SAN), in both directions. Certificates made with openssl
// into a temp dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Engine } from '../engine/index.js';
import { NetTransport, type NetTlsOptions } from '../engine/net/transport.js';
import { makePki } from './helpers/certs.js';
import { rejectsWith } from './helpers/assert-error.js';
import { NATS_URL } from './helpers/env.js';

const cluster = `id${randomBytes(4).toString('hex')}`;
const secret = randomBytes(24);
const join = (name: string, tls?: NetTlsOptions) => Engine.create({ threads: 1, cluster: { nats: NATS_URL, cluster, name, secret, ...(tls ? { tls } : {}) } });

test('a second live node under one name is refused; once the first is gone the name is free', async () => {
  const first = await join('b');
  try {
    await rejectsWith(join('b'), 'E_NAME_TAKEN', /held by a live node.*pid/);
    assert.equal(first.clusterStats()!.liveNodes, ['b']);
  } finally {
    await first.close();
  }
  const second = await join('b');
  assert.equal(second.clusterStats()!.liveNodes, ['b']);
  await second.close();
});

const pki = makePki();
const read = (leaf: { cert: string; key: string }): NetTlsOptions => ({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key), ca: readFileSync(pki.ca) });
const certB = read(pki.issue('b', 'b', ['IP:127.0.0.1']));
const certC = read(pki.issue('c', 'node-c', ['IP:127.0.0.1', 'DNS:c']));

test('with TLS a node cannot start under a name its certificate does not carry', async () => {
  await rejectsWith(NetTransport.listen({ secret, nodeName: 'b', tls: certC }), 'E_CONFIG', /not in its TLS certificate.*node-c, c/);
  await rejectsWith(join('x', certB), 'E_CONFIG', /not in its TLS certificate/);
  const ok = await NetTransport.listen({ secret, nodeName: 'c', tls: certC });
  await ok.close();
});

/** A holder of the secret and of c's certificate whose code claims to be b anyway. */
async function impostor(): Promise<NetTransport> {
  const t = await NetTransport.listen({ secret, nodeName: 'c', tls: certC });
  (t as unknown as { nodeName: string }).nodeName = 'b';
  return t;
}

test('with TLS a peer claiming a name its certificate does not carry is refused, dialling or dialled', async () => {
  const b = await NetTransport.listen({ secret, nodeName: 'b', tls: certB });
  const c = await NetTransport.listen({ secret, nodeName: 'c', tls: certC });
  const fake = await impostor();
  const addr = (t: NetTransport) => `127.0.0.1:${t.address.port}`;
  try {
    // Honest peers: c's certificate carries c (as a SAN), b's carries b (as the CN).
    const conn = await c.connect(addr(b));
    assert.is(conn.peer, 'b');
    const failures = b.stats().authFailures;
    await rejectsWith(fake.connect(addr(c)), 'E_AUTH');
    await rejectsWith(b.connect(addr(fake)), 'E_AUTH', /claims node name "b".*node-c, c/);
    assert.ok(c.stats().authFailures >= 1, 'the listener did not count the refusal');
    assert.is(b.stats().authFailures, failures + 1);
  } finally {
    await Promise.all([b.close(), c.close(), fake.close()]);
  }
});

test.run();
