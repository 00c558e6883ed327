// The namespace flags of `cwasi bench networked` are checked before anything
// is measured: `--link` takes a tc rate (a whole number and kbit, mbit or
// gbit, 10mbit to 100gbit) and needs `--netns`; benches that do not cross
// hosts refuse both (E_CONFIG, exit 2); and `--netns` where namespaces cannot
// be had (here: run as an unprivileged user) is E_NETNS_UNAVAILABLE saying
// why (exit 1), with no table printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { CwasiError } from '../engine/index.js';
import { parseLinkRate } from '../engine/cli/format.js';
import { bin, cwasi, hasStack, root } from './helpers/cli.js';

test('parseLinkRate: tc units to bits per second', () => {
  assert.equal(parseLinkRate('10gbit'), { text: '10gbit', bitsPerSec: 10e9 });
  assert.equal(parseLinkRate('1gbit'), { text: '1gbit', bitsPerSec: 1e9 });
  assert.equal(parseLinkRate('500mbit'), { text: '500mbit', bitsPerSec: 500e6 });
  assert.equal(parseLinkRate('20000kbit'), { text: '20000kbit', bitsPerSec: 20e6 });
  assert.equal(parseLinkRate('10mbit').bitsPerSec, 10e6);
  assert.equal(parseLinkRate('100gbit').bitsPerSec, 100e9);
});

test('parseLinkRate: anything else is E_CONFIG', () => {
  for (const bad of ['', '1', '1.5gbit', '10 gbit', '10Gbit', '10gbps', '10GiB', 'gbit', '-1gbit', '0gbit', '010gbit', ' 1gbit', '1gbit ', '9mbit', '101gbit', '1000000000000kbit']) {
    try {
      parseLinkRate(bad);
      assert.unreachable(`"${bad}" was taken`);
    } catch (err) {
      assert.instance(err, CwasiError, bad);
      assert.is((err as CwasiError).code, 'E_CONFIG', bad);
      assert.match((err as Error).message, /--link/, bad);
    }
  }
});

function usage(r: { code: number; stderr: string; stdout: string }, message: RegExp, label: string): void {
  assert.is(r.code, 2, `${label}: ${r.stderr}`);
  assert.match(r.stderr, /^error E_CONFIG: /, label);
  assert.match(r.stderr, message, label);
  assert.not.ok(hasStack(r.stderr), label);
  assert.is(r.stdout, '', `${label}: nothing measured`);
}

test('the CLI refuses a bad --link, --link without --netns, and both on a bench that stays on one host', async () => {
  usage(await cwasi('bench', 'networked', '--netns', '--link', '1.5gbit'), /--link "1\.5gbit" is not a link rate/, 'decimal rate');
  usage(await cwasi('bench', 'networked', '--netns', '--link', '5mbit'), /out of range: from 10mbit to 100gbit/, 'too slow');
  usage(await cwasi('bench', 'networked', '--link', '1gbit'), /give --netns too/, 'no --netns');
  usage(await cwasi('bench', 'overhead', '--netns'), /runs on this host only; --netns and --link are for networked/, 'overhead');
});

test('--netns without root is E_NETNS_UNAVAILABLE, before anything is measured', async () => {
  if (process.getuid?.() !== 0) {
    // Already unprivileged: the plain command shows it.
    const r = await cwasi('bench', 'networked', '--netns', '--sizes', '64KiB');
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error E_NETNS_UNAVAILABLE: --netns: /);
    return;
  }
  // As root, run the CLI as the unprivileged user "nobody", where nobody can
  // run this node and read the package (a node kept under /root cannot be).
  const probe = await new Promise<string | undefined>((resolve) => {
    execFile(process.execPath, ['-e', 'require("node:fs").accessSync(process.argv[1])', bin], { uid: 65534, gid: 65534, timeout: 30_000 },
      (err) => resolve(err === null ? undefined : err.message.split('\n')[0]));
  });
  if (probe !== undefined) {
    console.log(`  skipped: user nobody cannot run ${process.execPath} on ${bin} (${probe})`);
    return;
  }
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, 'bench', 'networked', '--netns', '--sizes', '64KiB'], { cwd: root, uid: 65534, gid: 65534, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr.trimEnd(), 'error E_NETNS_UNAVAILABLE: --netns: network namespaces need root (run as root, or drop --netns)');
  assert.is(r.stdout, '', 'no table: nothing was measured');
});

test.run();
