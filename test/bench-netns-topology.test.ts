// cwasi-test: exclusive (makes network namespaces)
// The namespace topology of `cwasi bench networked --netns` (bench/netns.ts):
// opened, its three namespaces exist, a process in A reaches one listening in
// B over the veth pairs and the bridge, Redis answers from the third, and
// once closed neither `ip netns list` nor `ip link` shows any of its names.
// A set-up that fails half way (a link name already taken, so the third
// namespace's pair cannot be made) is E_NETNS_UNAVAILABLE and leaves nothing
// of its own behind either. Needs root, Linux and iproute2; says why it did
// not run otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { CwasiError } from '../engine/index.js';
import { netnsUnavailable, openTopology, topologyNames, type TopologyNames } from '../bench/netns.js';

// CWASI_TEST_NO_NETNS=1 declines namespaces, as for the other namespace tests.
const unavailable = process.env.CWASI_TEST_NO_NETNS === '1' ? 'CWASI_TEST_NO_NETNS=1' : netnsUnavailable();

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
}

/** Every name of `names` still present: namespaces in `ip netns list`, links in `ip link`. */
function leftOver(names: TopologyNames): string[] {
  const namespaces = ip('netns', 'list');
  const links = ip('-o', 'link');
  return [
    ...names.namespaces.filter((ns) => new RegExp(`^${ns}( |$)`, 'm').test(namespaces)),
    ...[names.bridge, ...names.rootLinks, ...names.nsLinks].filter((l) => new RegExp(`: ${l}[@:]`).test(links)),
  ];
}

/** A one-shot TCP server inside namespace `ns` on `host`; resolves once it listens, then with what it read. */
function serverIn(wrap: string[], host: string, port: number): Promise<{ received: Promise<string> }> {
  const script = `const s=require('net').createServer(c=>{let t='';c.on('data',d=>t+=d);c.on('end',()=>{process.stdout.write('got '+t+'\\n');c.end();s.close();});});s.listen(${port},'${host}',()=>process.stdout.write('listening\\n'));`;
  const child = spawn(wrap[0]!, [...wrap.slice(1), process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const received = new Promise<string>((done) => child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /got (.*)\n/.exec(out);
      if (m) done(m[1]!);
    }));
    child.stdout!.on('data', () => { if (out.includes('listening\n')) resolve({ received }); });
    child.once('exit', (code) => reject(new Error(`the server in the namespace exited (${code}): ${out}`)));
  });
}

if (unavailable !== undefined) {
  test(`netns topology: not run (${unavailable})`, () => {
    console.log(`# netns topology: not run (${unavailable})`);
  });
} else {
  test('opened: three namespaces, A reaches B, Redis answers; closed: no name of it is left', async () => {
    const t = await openTopology();
    let closed = false;
    try {
      assert.equal(leftOver(t.names).sort(), [t.names.bridge, ...t.names.namespaces, ...t.names.rootLinks].sort(), 'the namespaces, the bridge and the root ends exist');
      assert.is(new Set([t.hostIp, t.a.ip, t.b.ip, t.redis.ip]).size, 4);
      // A TCP connection from a process in A to one in B.
      const server = await serverIn(t.b.wrap, t.b.ip, 7000);
      const client = spawn(t.a.wrap[0]!, [...t.a.wrap.slice(1), process.execPath, '-e',
        `const c=require('net').connect({host:'${t.b.ip}',port:7000,localAddress:'${t.a.ip}'},()=>c.end('from-a'));c.on('error',e=>{console.error(e.message);process.exit(1);});`], { stdio: 'inherit' });
      const clientExit = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
      assert.is(await server.received, 'from-a');
      assert.is(await clientExit, 0);
      // Redis in the third namespace, reached from here over the bridge, with its password.
      const url = new URL(t.redisUrl);
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: url.hostname, port: Number(url.port) }, () => s.write(`AUTH ${url.password}\r\nPING\r\n`));
        let text = '';
        s.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('PONG') || text.includes('-ERR')) { s.destroy(); resolve(text); }
        });
        s.on('error', reject);
      });
      assert.match(reply, /\+OK\r\n\+PONG\r\n/);
      assert.is(url.hostname, t.redis.ip);
      await t.close();
      closed = true;
      assert.equal(leftOver(t.names), [], 'nothing of the topology is left');
    } finally {
      if (!closed) await t.close();
    }
  });

  test('a set-up failing half way is E_NETNS_UNAVAILABLE and leaves nothing of its own', async () => {
    const tag = randomBytes(3).toString('hex');
    const names = topologyNames(tag);
    // The third pair's root end is taken: bridge, two namespaces and two pairs are made before it fails.
    const clash = names.rootLinks[2]!;
    ip('link', 'add', clash, 'type', 'bridge'); // (a bridge: the dummy module may be absent)
    try {
      const err = await openTopology({ tag }).then(async (t) => { await t.close(); return undefined; }, (e: unknown) => e);
      assert.instance(err, CwasiError);
      assert.is((err as CwasiError).code, 'E_NETNS_UNAVAILABLE');
      assert.match((err as CwasiError).message, /cannot set up the namespaces/);
      assert.equal(leftOver(names), [clash], 'only the clashing link, which the test made, is left');
    } finally {
      ip('link', 'del', clash);
    }
    assert.equal(leftOver(names), []);
  });
}

test.run();
