// cwasi-test: exclusive (makes network namespaces)
// Ctrl-C (SIGINT) during `cwasi bench networked --netns` removes the
// topology before the process ends: every process inside the namespaces is
// killed (and the NATS server on the bridge), the namespaces, veth pairs and bridge are deleted, and the command
// exits 130 saying what it removed. Needs root, Linux and iproute2; says why
// it did not run otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { netnsUnavailable } from '../bench/netns.js';
import { spawnCwasi } from './helpers/cli.js';

// CWASI_TEST_NO_NETNS=1 declines namespaces, as for the other namespace tests.
const unavailable = process.env.CWASI_TEST_NO_NETNS === '1' ? 'CWASI_TEST_NO_NETNS=1' : netnsUnavailable();

function leftOver(tag: string): string[] {
  const text = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) + execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  return text.split('\n').filter((l) => l.includes(tag));
}

if (unavailable !== undefined) {
  test(`bench --netns interrupt: not run (${unavailable})`, () => {
    console.log(`# bench --netns interrupt: not run (${unavailable})`);
  });
} else {
  test('SIGINT once the namespaces are up: exit 130, nothing of the topology left', async () => {
    // Enough executions that the run is still going when the signal comes.
    const child = spawnCwasi(['bench', 'networked', '--netns', '--sizes', '64KiB', '--repeat', '100000']);
    let stderr = '';
    let tag: string | undefined;
    let subnet = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Bounds the test only (a bench that ignored the signal would run for minutes).
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /netns: three network namespaces on bridge cwb([0-9a-f]{6}) \((10\.\d+\.\d+)\.0\/24\)/.exec(stderr);
      if (m && tag === undefined) {
        tag = m[1]!;
        subnet = m[2]!;
        assert.ok(leftOver(tag).length > 0, 'the topology is up when the line is printed');
        child.kill('SIGINT');
      }
    });
    const code = await exited;
    clearTimeout(watchdog);
    assert.ok(tag !== undefined, `the topology line never came:\n${stderr}`);
    assert.is(code, 130, stderr);
    assert.match(stderr, new RegExp(`interrupted \\(SIGINT\\): network namespaces cwasi-${tag}-\\* and their links removed`));
    assert.equal(leftOver(tag!), []);
    // No server or node it started is still running (each names an address of the subnet on its command line).
    const running = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`${subnet}.`));
    assert.equal(running, []);
  });
}

test.run();
