// The reporting half of `cwasi bench paper`: the bundled reference CSV parses
// and answers look-ups, the table puts the paper's numbers and ratios beside
// measured rows, the goals pass and fail where they should, every plot is a
// well-formed SVG with its axis titles, and the HTML page is self-contained.
// Synthetic rows only: no engine, no Redis.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchMeta } from '../bench/common.js';
import { PAPER_CSV_URL, loadPaperReference, paperRows, paperValue, parsePaperCsv } from '../bench/paper/reference.js';
import {
  MIB,
  goalsFor,
  paperComparison,
  paperTable,
  renderHtml,
  renderSvgPlots,
  writeReport,
  type PaperBenchRow,
  type PaperExperiment,
  type SvgPlot,
} from '../bench/paper/index.js';
import type { IfcMode } from '../engine/selection.js';

/** A synthetic measured row: mean latency `meanMs`, paper throughput 1000 / meanMs. */
function mk(experiment: PaperExperiment, mode: IfcMode, mib: number, meanMs: number, extra: Partial<PaperBenchRow> = {}): PaperBenchRow {
  const lat = { count: 50, meanMs, p50Ms: meanMs * 0.9, p90Ms: meanMs * 1.5, p99Ms: meanMs * 2, maxMs: meanMs * 3 };
  return {
    bench: 'paper',
    experiment,
    mode,
    payloadBytes: Math.round(mib * MIB),
    n: 1,
    executions: 50,
    latencyMs: lat,
    endToEndMs: { count: 50, meanMs: meanMs * 1.6, p50Ms: meanMs * 1.5, p90Ms: meanMs * 2, p99Ms: meanMs * 3, maxMs: meanMs * 4 },
    throughputPaperRps: 1000 / meanMs,
    throughputRps: 2000 / meanMs,
    gbPerSec: null,
    cpuMs: 10,
    peakRssBytes: 100 * MIB,
    ...extra,
  };
}

const META: BenchMeta = {
  node: 'v20.20.2',
  cpu: 'Test CPU <with markup>',
  cores: 2,
  memoryGiB: 8,
  date: '2026-01-01T00:00:00.000Z',
  command: 'cwasi bench paper --quick',
};

/** A full synthetic run: every experiment, every mode, with the numbers chosen so that every goal passes. */
function fullRun(): PaperBenchRow[] {
  const rows: PaperBenchRow[] = [];
  const perMiB: Record<IfcMode, number> = { embedded: 0.0005, local: 0.08, networked: 0.25, 'remote-kv': 2.5, copy: 0.4 };
  for (const mib of [2, 4, 10, 20, 40, 60, 100]) {
    for (const mode of ['embedded', 'local', 'remote-kv', 'copy'] as const) {
      const mean = mode === 'embedded' ? 0.01 : perMiB[mode] * mib;
      rows.push(mk('sequential', mode, mib, mean));
    }
  }
  for (const experiment of ['fan-out', 'fan-in'] as const) {
    for (const n of [4, 10, 100]) {
      for (const mode of ['embedded', 'local', 'remote-kv'] as const) rows.push(mk(experiment, mode, 2, perMiB[mode] * 2 * (1 + n / 100), { n }));
    }
  }
  for (const mib of [2, 10, 100]) {
    for (const mode of ['local', 'remote-kv'] as const) rows.push(mk('fan-out-by-size', mode, mib, perMiB[mode] * mib, { n: 10 }));
  }
  for (const mib of [2, 10, 60]) rows.push(mk('sequential-cross-node', 'networked', mib, perMiB.networked * mib));
  return rows;
}

// ───────────── reference CSV ─────────────

test('the reference CSV resolves from the compiled module and parses every data line', () => {
  assert.ok(fileURLToPath(PAPER_CSV_URL).endsWith(join('bench', 'reference', 'cwasi-paper.csv')));
  assert.ok(existsSync(PAPER_CSV_URL), `missing ${fileURLToPath(PAPER_CSV_URL)}`);
  const text = readFileSync(PAPER_CSV_URL, 'utf8');
  const dataLines = text.split('\n').slice(1).filter((l) => l.trim() !== '');
  const rows = loadPaperReference();
  assert.is(rows.length, dataLines.length);
  assert.is(rows.length, 81);
  assert.equal(rows[0], { experiment: 'sequential', payloadMiB: 2, executions: '1', metric: 'latency_mean', system: 'openfaas', value: 23.8, unit: 'ms' });
});

test('paperValue finds known values and says undefined where the paper has none', () => {
  assert.is(paperValue('sequential', 2, 'latency_mean', 'cwasi'), 5.1);
  assert.is(paperValue('sequential', 2, 'throughput_paper', 'cwasi'), 255.1);
  assert.is(paperValue('sequential', 100, 'throughput_paper', 'cwasi'), 6.9);
  assert.is(paperValue('sequential', 100, 'latency_mean', 'wasmedge-http', '1'), 4615);
  assert.is(paperValue('fan-out', 2, 'latency_mean', 'cwasi', '4-500'), 4.8);
  assert.is(paperValue('fan-in', 2, 'throughput_paper', 'cwasi-reproduction', '100'), 654.78);
  assert.is(paperValue('fan-out-by-size', 100, 'latency_sum_of_10', 'wasmedge-http'), 45050);
  assert.is(paperValue('sequential-cross-node', 60, 'duration_mean', 'cwasi-networked-redis'), 28741);
  // 2 MB (decimal) still finds the 2 MiB row.
  assert.is(paperValue('sequential', 2e6 / MIB, 'latency_mean', 'cwasi'), 5.1);
  assert.is(paperValue('sequential', 3, 'latency_mean', 'cwasi'), undefined);
  assert.is(paperValue('fan-out', 2, 'latency_mean', 'cwasi', '10'), undefined);
  assert.throws(() => paperValue('fan-out', 2, 'latency_mean', 'cwasi-reproduction'), /executions/);
  assert.is(paperRows({ experiment: 'sequential', metric: 'latency_mean', system: 'cwasi' }).length, 7);
});

test('parsePaperCsv refuses a wrong header and malformed rows, and reads quoted fields', () => {
  const header = 'experiment,payload_mib,executions,metric,system,value,unit';
  assert.throws(() => parsePaperCsv('a,b,c\n'), /header/);
  assert.throws(() => parsePaperCsv(`${header}\nsequential,2,1,latency_mean,cwasi,fast,ms\n`), /line 2: bad value/);
  assert.throws(() => parsePaperCsv(`${header}\nsequential,x,1,latency_mean,cwasi,1,ms\n`), /bad payload_mib/);
  assert.throws(() => parsePaperCsv(`${header}\nsequential,2,1,latency_mean,cwasi,1\n`), /expected 7 fields/);
  assert.throws(() => parsePaperCsv(`${header}\nsequential,2,many,latency_mean,cwasi,1,ms\n`), /bad executions/);
  const rows = parsePaperCsv(`${header}\r\n"fan-out",2,4-500,latency_mean,"sys, with ""comma""",1.5,ms\r\n\r\n`);
  assert.equal(rows, [{ experiment: 'fan-out', payloadMiB: 2, executions: '4-500', metric: 'latency_mean', system: 'sys, with "comma"', value: 1.5, unit: 'ms' }]);
});

// ───────────── table ─────────────

test('the table puts the paper numbers and the ratios to CWASI beside each measured row', () => {
  const rows = [
    mk('sequential', 'embedded', 2, 0.051),
    mk('sequential', 'local', 100, 14.63),
    mk('sequential', 'local', 3, 1),
    mk('fan-out', 'local', 2, 0.48, { n: 10 }),
    mk('fan-out-by-size', 'local', 2, 1, { n: 10 }),
    mk('sequential-cross-node', 'networked', 2, 5, { endToEndMs: { count: 50, meanMs: 8, p50Ms: 8, p90Ms: 8.5, p99Ms: 9, maxMs: 9 } }),
  ];
  const table = paperTable(rows);
  const lines = table.split('\n');
  const line = (start: RegExp) => {
    const found = lines.filter((l) => start.test(l));
    assert.is(found.length, 1, `one line for ${start}`);
    return found[0]!;
  };
  // sequential 2 MiB embedded: CWASI 5.1 ms / 255.1 req/s, OpenFaaS 23.8 / 32.6, WasmEdge 36 / 13.8, repro 4.72 / 211.83.
  const seq2 = line(/^sequential\s+2\s+1\s+embedded/);
  for (const v of ['5.1', '23.8', '36', '4.72', '255.1', '32.6', '13.8', '211.83']) assert.ok(seq2.split(/\s+/).includes(v), `${v} in: ${seq2}`);
  assert.ok(seq2.includes('100×'), `latency ratio 5.1 / 0.051 in: ${seq2}`);
  assert.ok(seq2.includes('76.9×'), `throughput ratio 19608 / 255.1 in: ${seq2}`);
  const seq100 = line(/^sequential\s+100\s+1\s+local/);
  for (const v of ['146.3', '366.8', '4615', '111', '6.9', '8.99']) assert.ok(seq100.split(/\s+/).includes(v), `${v} in: ${seq100}`);
  assert.ok(seq100.includes('10×'), seq100);
  // A size the paper did not run: every published column and both ratios missing.
  const seq3 = line(/^sequential\s+3\s+1\s+local/);
  assert.is(seq3.split(/\s+/).filter((c) => c === '–').length, 10, seq3);
  // fan-out at N = 10: the paper's 4-500 rows plus the reproduction's N = 10.
  const fan = line(/^fan-out\s+2\s+10\s+local/);
  for (const v of ['4.8', '16.9', '201', '16.7', '206', '59.8', '10×']) assert.ok(fan.split(/\s+/).includes(v), `${v} in: ${fan}`);
  // fan-out-by-size: 10 × mean = 10 ms against CWASI's sum of 40 ms.
  const fbs = line(/^fan-out-by-size\s+2\s+10\s+local/);
  for (const v of ['10', '40', '243', '303', '4×', '244']) assert.ok(fbs.split(/\s+/).includes(v), `${v} in: ${fbs}`);
  // cross-node: end-to-end mean (8 ms) against the networked-Redis duration 758 ms.
  const cross = line(/^sequential-cross-node\s+2\s+1\s+networked/);
  for (const v of ['8', '758', '49', '977', '94.8×']) assert.ok(cross.split(/\s+/).includes(v), `${v} in: ${cross}`);
  assert.match(table, /higher is better/);
  assert.is(lines.filter((l) => /^(sequential|fan-)/.test(l)).length, rows.length);
});

test('paperComparison uses the reported sum of 10 sends when there is one', () => {
  const [c] = paperComparison([mk('fan-out-by-size', 'embedded', 10, 1, { n: 10, sumOf10Ms: 2 })]);
  assert.is(c!.here.latencyMs, 2);
  assert.is(c!.cwasi.latencyMs, 190);
  assert.is(c!.latencyRatio, 95);
  assert.is(c!.reproduction.latencyMs, undefined);
});

// ───────────── goals ─────────────

test('goals pass when the sequential targets are met', () => {
  const rows = [
    mk('sequential', 'embedded', 2, 1000 / 6000),
    mk('sequential', 'local', 2, 1000 / 5200),
    mk('sequential', 'embedded', 100, 1000 / 80),
    mk('sequential', 'local', 100, 1000 / 70),
    mk('sequential', 'remote-kv', 2, 1000 / 150),
  ];
  const goals = goalsFor(rows);
  assert.is(goals.length, 6);
  for (const g of goals) assert.ok(g.pass, `${g.name}: ${g.measured} vs ${g.target}`);
  assert.ok(goals.some((g) => g.target.includes('5102') && g.target.includes('255.1')));
  assert.ok(goals.some((g) => g.target.includes('69') && g.target.includes('6.9')));
  const kv = goals.find((g) => g.name.includes('embedded') && g.name.includes('remote-kv'))!;
  assert.match(kv.measured, /^40× /);
});

test('goals fail below target and when a row is missing', () => {
  const rows = [
    mk('sequential', 'embedded', 2, 1000 / 6000),
    mk('sequential', 'local', 2, 1000 / 5000),
    mk('sequential', 'local', 100, 1000 / 68),
    mk('sequential', 'remote-kv', 2, 1000 / 190),
  ];
  const byName = new Map(goalsFor(rows).map((g) => [g.name, g]));
  const get = (name: string) => {
    const g = byName.get(name);
    assert.ok(g, `goal ${name}`);
    return g!;
  };
  assert.ok(get('sequential 2 MiB, embedded: paper throughput ≥ 20× CWASI').pass);
  assert.not.ok(get('sequential 2 MiB, local: paper throughput ≥ 20× CWASI').pass);
  assert.not.ok(get('sequential 100 MiB, local: paper throughput ≥ 10× CWASI').pass);
  const missing = get('sequential 100 MiB, embedded: paper throughput ≥ 10× CWASI');
  assert.not.ok(missing.pass);
  assert.match(missing.measured, /not measured/);
  assert.ok(get('sequential 2 MiB, embedded: ≥ 30× remote-kv (same run)').pass); // 6000 / 190 = 31.6
  assert.not.ok(get('sequential 2 MiB, local: ≥ 30× remote-kv (same run)').pass); // 5000 / 190 = 26.3
  const noKv = goalsFor(rows.filter((r) => r.mode !== 'remote-kv')).find((g) => g.name.startsWith('sequential 2 MiB, embedded: ≥ 30×'))!;
  assert.not.ok(noKv.pass);
  assert.match(noKv.measured, /remote-kv not measured/);
  assert.ok(goalsFor([]).every((g) => !g.pass));
});

// ───────────── plots ─────────────

/** Tags open and close in order (no XML parser in the dependencies; vega writes no comments or CDATA). */
function assertWellFormed(svg: string, name: string): void {
  assert.ok(svg.startsWith('<svg'), `${name} starts with <svg`);
  assert.ok(svg.trimEnd().endsWith('</svg>'), `${name} ends with </svg>`);
  assert.not.match(svg, /<!--|<!\[CDATA\[/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, close, tag, , selfClose] = m;
    if (selfClose === '/') continue;
    if (close === '/') {
      const open = stack.pop();
      assert.is(open, tag, `${name}: </${tag}> closes <${open}>`);
    } else {
      stack.push(tag!);
    }
  }
  assert.equal(stack, [], `${name}: unclosed tags`);
  // Text between tags holds no raw markup characters.
  assert.not.match(svg.replace(/<(?:[^>"']|"[^"]*"|'[^']*')*>/g, ''), /[<>]/);
}

const AXIS_TITLES: Record<string, string[]> = {
  'sequential-latency': ['payload size (MiB, log scale)', 'mean latency (ms, log scale)'],
  'sequential-throughput': ['payload size (MiB, log scale)', 'throughput, 1 / mean latency (req/s, log scale)'],
  'fan-out-latency': ['N, number of callees / callers (log scale)', 'mean latency per transfer (ms, log scale)'],
  'fan-in-latency': ['N, number of callees / callers (log scale)', 'mean latency per transfer (ms, log scale)'],
  'fan-out-by-size': ['payload size (MiB, log scale)', 'sum of 10 latencies (ms, log scale)'],
  'cross-node': ['payload size (MiB, log scale)', 'mean end-to-end time (ms, log scale)'],
  'real-vs-paper-throughput': ['paper throughput, 1 / mean latency (req/s, log scale)', 'real throughput with concurrency (req/s, log scale)'],
};

let fullPlots: SvgPlot[] = [];

test('every plot is a well-formed SVG with title, axis titles and legend', async () => {
  fullPlots = await renderSvgPlots(fullRun());
  assert.equal(fullPlots.map((p) => p.name).sort(), Object.keys(AXIS_TITLES).sort());
  for (const p of fullPlots) {
    assertWellFormed(p.svg, p.name);
    for (const t of AXIS_TITLES[p.name]!) assert.ok(p.svg.includes(t), `${p.name}: axis title "${t}"`);
    assert.ok(p.svg.includes(p.title.replace(/&/g, '&amp;')), `${p.name}: title`);
    assert.ok(p.caption.length > 40, `${p.name}: caption`);
    assert.ok(p.svg.includes('role-legend'), `${p.name}: legend`);
    assert.ok(p.svg.includes('cwasi local') || p.svg.includes('cwasi networked'), `${p.name}: a measured series`);
  }
  const seq = fullPlots.find((p) => p.name === 'sequential-latency')!;
  for (const s of ['CWASI (paper)', 'OpenFaaS (paper)', 'WasmEdge-HTTP (paper)', 'CWASI reproduction 2024', 'cwasi embedded', 'cwasi remote-kv', 'measured here', 'published']) {
    assert.ok(seq.svg.includes(s), `sequential-latency legend has ${s}`);
  }
});

test('without measured rows the plots show the published series only', async () => {
  const plots = await renderSvgPlots([]);
  assert.equal(plots.map((p) => p.name), ['sequential-latency', 'sequential-throughput', 'fan-out-latency', 'fan-in-latency', 'fan-out-by-size']);
  for (const p of plots) {
    assertWellFormed(p.svg, p.name);
    assert.ok(p.svg.includes('CWASI (paper)'), p.name);
    assert.not.ok(p.svg.includes('measured here'), p.name);
  }
});

// ───────────── HTML ─────────────

test('the HTML page is self-contained and embeds every SVG', async () => {
  const rows = fullRun();
  if (fullPlots.length === 0) fullPlots = await renderSvgPlots(rows);
  const html = renderHtml(rows, META, fullPlots);
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.not.match(html, /<script\b/i);
  assert.not.match(html, /<link\b/i);
  assert.not.match(html, /<(img|iframe|object|embed|image|use)\b[^>]*\b(src|href|xlink:href)\s*=\s*["']?(https?:)?\/\//i);
  assert.not.match(html, /\b(src|href)\s*=\s*["']?https?:/i);
  assert.not.match(html, /url\(\s*["']?https?:/i);
  assert.not.match(html, /@import/i);
  for (const p of fullPlots) assert.ok(html.includes(p.svg), `embeds ${p.name}`);
  // Inlined SVGs must not share element ids.
  const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.is(new Set(ids).size, ids.length, 'ids are unique');
  // Meta, escaped; the table; the goals; the caveats.
  assert.ok(html.includes('Test CPU &lt;with markup&gt;'));
  assert.not.ok(html.includes('<with markup>'));
  assert.ok(html.includes('cwasi bench paper --quick'));
  assert.ok(html.includes('<td class="num paper">5.1</td>'));
  assert.match(html, /Goals \(6 of 6 met\)/);
  assert.match(html, /1 \/ mean latency/);
  assert.match(html, /not offered load/i);
});

test('writeReport writes every SVG and index.html and returns their paths', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwasi-paper-report-'));
  try {
    const rows = fullRun().filter((r) => r.experiment !== 'sequential-cross-node');
    const paths = await writeReport(join(dir, 'out'), rows, META);
    assert.is(paths.length, 7);
    assert.ok(paths[paths.length - 1]!.endsWith('index.html'));
    for (const p of paths) assert.ok(existsSync(p), p);
    const html = await readFile(paths[paths.length - 1]!, 'utf8');
    for (const p of paths.filter((x) => x.endsWith('.svg'))) {
      const svg = (await readFile(p, 'utf8')).trimEnd();
      assert.ok(svg.startsWith('<svg') && html.includes(svg), p);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
