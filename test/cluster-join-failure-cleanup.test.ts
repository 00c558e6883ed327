// A join that fails after the member subscribed and started listening (its
// first announcement fails) closes what it opened, on real NATS and a real
// socket: the listening port is closed and the node name is free at once, so
// a second join under it succeeds. Before, the half-joined member kept
// answering the name's pings (the next join got E_NAME_TAKEN) and kept the
// process alive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { ClusterMember, type MemberHooks } from '../engine/cluster/member.js';
import { NATS_URL } from './helpers/env.js';
import { freePort } from './helpers/sockets.js';

const cluster = `halfjoin-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(32);

/** Whether something accepts connections on 127.0.0.1:`port`. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** Hooks of a node that hosts nothing; `hosted` decides what its record lists (or throws). */
function hooks(hosted: () => string[]): MemberHooks {
  const unused = () => { throw new Error('not used by this test'); };
  return { deployLocal: unused, leaseRing: unused, groupOf: unused, runLocal: unused, hostedFunctions: hosted, maxThreads: 1 };
}

test('a join whose first announcement fails closes its socket and frees its name', async () => {
  const port = await freePort();
  const opts = { nats: NATS_URL, cluster, name: 'n', secret, listen: `127.0.0.1:${port}`, heartbeatMs: 200 };
  let calls = 0;
  const failing = hooks(() => { calls++; throw new Error('the function list cannot be read'); });
  try {
    await ClusterMember.join(opts, failing);
    assert.unreachable('the join should fail');
  } catch (err) {
    assert.match((err as Error).message, /the function list cannot be read/);
  }
  assert.is(calls, 1, 'the announcement was reached');
  assert.is(await accepting(port), false, 'the listening socket is closed');
  const again = await ClusterMember.join(opts, hooks(() => []));
  try {
    assert.is(again.address, `127.0.0.1:${port}`);
  } finally {
    await again.close();
  }
});

test.run();
