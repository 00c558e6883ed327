// A node started with another cluster secret: its records do not open with
// this node's secret, and the error says so instead of only "not alive".
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../engine/index.js';
import { newCluster, node } from './helpers/cluster-attack.js';
import { rejectsWith } from './helpers/assert-error.js';

const { cluster, secret } = newCluster('keys');
let b: Engine;
let coord: Engine;

test.before(async () => {
  b = await node(cluster, randomBytes(24), 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await coord?.close();
  await b?.close();
});

test('deploying to a node with another secret names the secret as the likely cause', async () => {
  const e = await rejectsWith(coord.deploy({ name: 'x', module: 'identity', host: 'b' }), 'E_NET', /node "b" is not alive/);
  assert.match(e.message, /not sealed with this node's cluster secret/);
  assert.equal(e.details, { node: 'b', reason: 'unverified-record' });
});

test('a node nobody started is only not alive', async () => {
  const e = await rejectsWith(coord.deploy({ name: 'y', module: 'identity', host: 'nobody' }), 'E_NET', /node "nobody" is not alive/);
  assert.not.match(e.message, /cluster secret/);
  assert.equal(e.details, { node: 'nobody', reason: 'not-alive' });
});

test.run();
