// `cwasi nats-config` makes a nats-server configuration in which only the
// cluster's nodes can reach it. A private nats-server runs that file; two
// engine nodes join with the node user and run a workflow. A client with
// other valid credentials (the APPS account's user) sees none of the
// cluster's traffic, gets no responders on its control subjects and cannot
// find its registry streams; the read-only monitor sees the control subjects
// but cannot publish on them or edit the streams. The workflow stays all right.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Engine } from '../engine/index.js';
import { NATS_BIN, privateNatsWithConfig, type PrivateServer } from './helpers/servers.js';
import { cwasi } from './helpers/cli.js';
import { deployFlow, describe, runFlow } from './helpers/cluster-attack.js';

// Its own port range: cluster-nats-auth uses 15222 + pid % 500, cluster-services-down 14222.
const PORT = 16222 + (process.pid % 500);
const cluster = `cfg${randomBytes(3).toString('hex')}`;
const secret = randomBytes(24);
const dir = mkdtempSync(join(tmpdir(), 'cwasi-nats-config-'));
const pass = (user: string) => readFileSync(join(dir, `${user}.pass`), 'utf8').trim();
let nats: PrivateServer;
let b: Engine;
let coord: Engine;
let app: NatsConnection;
let monitor: NatsConnection;

/** Resolves with the error `p` rejects with; fails the test when it resolves. */
async function refused(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.unreachable('expected a refusal');
  return undefined;
}

function member(name: string): Promise<Engine> {
  return Engine.create({
    threads: 1, timeoutMs: 20_000,
    cluster: { nats: `nats://127.0.0.1:${PORT}`, cluster, name, secret, heartbeatMs: 500, natsAuth: { user: `cwasi-${cluster}-node`, pass: pass('node') } },
  });
}

test.before(async () => {
  if (NATS_BIN === undefined) throw new Error('nats-server is needed (see .ci/run)');
  const r = await cwasi('nats-config', '--cluster', cluster, '--port', String(PORT), '--store-dir', join(dir, 'store'), '--out', dir);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /nats-server -c /);
  const text = readFileSync(join(dir, 'nats.conf'), 'utf8');
  nats = privateNatsWithConfig(PORT, () => text);
  await nats.start();
  b = await member('b');
  coord = await member('coord');
  app = await connect({ servers: nats.url, user: 'app', pass: pass('app') });
  monitor = await connect({ servers: nats.url, user: `cwasi-${cluster}-monitor`, pass: pass('monitor') });
});

test.after(async () => {
  await app?.close();
  await monitor?.close();
  await coord?.close();
  await b?.close();
  await nats?.stop();
});

test('the nodes run a workflow with the node user; another account sees and reaches nothing of the cluster', async () => {
  // Everything the other account can see: its own messages only.
  const seenByApp: string[] = [];
  app.subscribe('>', { callback: (_err, msg) => { seenByApp.push(msg.subject); } });
  let seenByMonitor = 0;
  monitor.subscribe(`cwasi.${cluster}.>`, { callback: () => { seenByMonitor++; } });
  await Promise.all([app.flush(), monitor.flush()]);

  await deployFlow(coord);
  const tally = await runFlow(coord, 50, 10_000);
  assert.is(tally.ok, tally.total, describe(tally));

  // The other account: nobody answers on the cluster's subjects, its registry does not exist there.
  await refused(app.request(`cwasi.${cluster}.node.b.run`, new Uint8Array(8), { timeout: 2000 }));
  const jsm = await jetstreamManager(app);
  await refused(jsm.streams.info(`KV_cwasi_${cluster}_nodes`));
  app.publish(`$KV.cwasi_${cluster}_nodes.b`, new TextEncoder().encode('junk'));
  await app.flush();

  // The monitor reads the control subjects but can change nothing.
  await refused(monitor.request(`cwasi.${cluster}.node.b.run`, new Uint8Array(8), { timeout: 2000 }));
  const mjsm = await jetstreamManager(monitor);
  const info = await mjsm.streams.info(`KV_cwasi_${cluster}_nodes`);
  await refused(mjsm.streams.update(`KV_cwasi_${cluster}_nodes`, { ...info.config, max_msg_size: 16 }));

  const after = await runFlow(coord, 50, 10_000);
  const clusterSubjects = seenByApp.filter((x) => x.startsWith(`cwasi.${cluster}.`) || x.startsWith(`$KV.cwasi_${cluster}_`));
  console.log(`# the other account saw ${seenByApp.length} messages (${clusterSubjects.length} on the cluster's subjects, its own), `
    + `the monitor ${seenByMonitor}; ${describe(tally)} / ${describe(after)}`);
  assert.is(after.ok, after.total, describe(after));
  assert.equal(clusterSubjects.sort(), [`$KV.cwasi_${cluster}_nodes.b`, `cwasi.${cluster}.node.b.run`], 'only its own two publishes');
  assert.ok(seenByMonitor > 0, 'the monitor sees the control subjects');
  assert.is((await mjsm.streams.info(`KV_cwasi_${cluster}_nodes`)).config.max_msg_size, -1, 'the stream is unchanged');
  assert.is(b.clusterStats()!.registry.repairs + coord.clusterStats()!.registry.repairs, 0, 'nothing needed repair');
});

test('a bad cluster name or port is E_CONFIG, exit 2', async () => {
  const bad = await cwasi('nats-config', '--cluster', 'a b');
  assert.is(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /E_CONFIG/);
  const port = await cwasi('nats-config', '--port', '70000');
  assert.is(port.code, 2, port.stderr);
});

test.run();
