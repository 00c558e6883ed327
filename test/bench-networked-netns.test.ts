// cwasi-test: exclusive (makes network namespaces and measures a shaped link)
// `cwasi bench networked --netns` end to end: the two nodes in two network
// namespaces, Redis in a third. The report has networked, remote-kv and
// raw-tcp-2proc rows with positive numbers (iperf3 too where installed), the
// topology in its meta and notes, and nothing of the topology is left once it
// is done. With a link rate (tc tbf on every link) the goal against the link
// rate appears. Needs root, Linux, iproute2, nats-server and redis-server;
// says why it did not run otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networked } from '../bench/networked.js';
import { netnsUnavailable, tbfBurstBytes } from '../bench/netns.js';
import { iperf3Version } from '../bench/net-ref.js';
import type { BenchReport, BenchResult } from '../bench/common.js';
import { cwasi } from './helpers/cli.js';

const LINK = { text: '1gbit', bitsPerSec: 1e9 };
/** Well above tbf's burst at 1gbit, so the link's rate shows. */
const SHAPED_BYTES = 4 * 1024 * 1024;
// CWASI_TEST_NO_NETNS=1 declines namespaces, as for the other namespace tests.
const unavailable = process.env.CWASI_TEST_NO_NETNS === '1' ? 'CWASI_TEST_NO_NETNS=1' : netnsUnavailable(LINK);

/** Names with this tag still in `ip netns list` or `ip link`. */
function leftOver(tag: string): string[] {
  const text = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) + execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  return text.split('\n').filter((l) => l.includes(tag));
}

function positive(r: BenchResult | undefined, what: string): void {
  assert.ok(r !== undefined, `a ${what} row`);
  assert.ok(r!.executions > 0 && r!.latencyMs.p50Ms > 0 && r!.latencyMs.meanMs > 0 && (r!.gbPerSec ?? 0) > 0, `${what}: ${JSON.stringify(r)}`);
}

interface NetnsMeta { tag: string; bridge: string; namespaces: { a: string; b: string; redis: string }; link: { rate: string } | null }

if (unavailable !== undefined) {
  test(`bench networked --netns: not run (${unavailable})`, () => {
    console.log(`# bench networked --netns: not run (${unavailable})`);
  });
} else {
  test('cwasi bench networked --netns: node, Redis and reference rows across the namespaces; nothing left after', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cwasi-netns-bench-'));
    const json = join(out, 'networked.json');
    const r = await cwasi('bench', 'networked', '--netns', '--quick', '--sizes', '64KiB', '--repeat', '2', '--out', out);
    assert.is(r.code, 0, r.stderr + r.stdout);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    const at = (mode: string) => report.results.find((x) => x.mode === mode);
    for (const mode of ['networked', 'remote-kv', 'raw-tcp-2proc']) positive(at(mode), mode);
    if (iperf3Version() !== undefined) positive(at('iperf3'), 'iperf3');
    const ns = report.meta.netns as NetnsMeta;
    assert.ok(ns !== undefined, 'the topology in meta');
    assert.match(ns.namespaces.a, new RegExp(`^cwasi-${ns.tag}-a$`));
    assert.is(ns.link, null);
    assert.ok((report.meta.nodes as string[]).some((n) => n.includes(ns.namespaces.b)), JSON.stringify(report.meta.nodes));
    assert.ok(report.notes!.some((n) => n.startsWith('topology: three network namespaces') && n.includes(ns.namespaces.redis)), report.notes!.join('\n'));
    assert.ok(report.notes!.some((n) => /raw-tcp and transport rows stay on loopback/.test(n)));
    assert.ok(report.goals.some((g) => /remote-kv .*Redis in its own namespace/.test(g.name)), JSON.stringify(report.goals));
    assert.not.ok(report.goals.some((g) => / vs raw-tcp throughput/.test(g.name)), 'no goal against the loopback raw-tcp row');
    assert.match(r.stderr, new RegExp(`netns: three network namespaces on bridge ${ns.bridge}`));
    assert.equal(leftOver(ns.tag), []);
  });

  test('with a 1gbit link: the goal against the link rate, the shaping in meta', async () => {
    const logs: string[] = [];
    const report = await networked({
      netns: true, link: LINK, sizes: [SHAPED_BYTES], quick: true, executions: 2,
      modes: ['networked'], command: 'test', log: (l) => logs.push(l),
    });
    positive(report.results.find((x) => x.mode === 'networked'), 'networked');
    const goal = report.goals.find((g) => g.name === 'networked vs the 1gbit link rate at 4 MiB');
    assert.ok(goal !== undefined, JSON.stringify(report.goals));
    const ratio = Number(/^([\d.]+) /.exec(goal!.measured)?.[1]);
    // The shaping applied: only tbf's bursts pass faster than the link. The
    // path crosses two shaped egresses (the sender's link, the bridge's port
    // to the receiver), each starting with a full bucket, so at most two
    // bursts' worth of the payload passes early; unshaped, veth runs many
    // times faster than 1gbit.
    assert.ok(ratio > 0 && ratio <= SHAPED_BYTES / (SHAPED_BYTES - 2 * tbfBurstBytes(LINK)), goal!.measured);
    const ns = report.meta.netns as NetnsMeta;
    assert.is(ns.link?.rate, '1gbit');
    assert.ok(report.notes!.some((n) => n.includes('every link shaped to 1gbit each way')), report.notes!.join('\n'));
    assert.equal(leftOver(ns.tag), []);
  });
}

test.run();
