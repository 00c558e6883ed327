// The CWASI paper's published numbers (bench/reference/cwasi-paper.csv), parsed
// into typed rows, with look-ups for the side-by-side tables and plots of
// `cwasi bench paper`. See bench/reference/README.md for what each metric means.
//
// The build copies no data files: the CSV is read from the source tree, found
// relative to this module (dist/bench/paper/reference.js → ../../../bench/reference).

import { readFileSync } from 'node:fs';

export type PaperExperiment = 'sequential' | 'fan-out' | 'fan-in' | 'fan-out-by-size' | 'sequential-cross-node';
export type PaperMetric = 'latency_mean' | 'throughput_paper' | 'latency_sum_of_10' | 'duration_mean';

/** The systems the reference file names. */
export const PAPER_SYSTEMS = {
  cwasi: 'cwasi',
  openfaas: 'openfaas',
  wasmedgeHttp: 'wasmedge-http',
  reproduction: 'cwasi-reproduction',
  cwasiNetworkedRedis: 'cwasi-networked-redis',
  wasmedgeRedis: 'wasmedge-redis',
  openfaasRemote: 'openfaas-remote',
} as const;

/** One published value. */
export interface PaperRow {
  experiment: string;
  payloadMiB: number;
  /** As written in the CSV: a count ("1", "10") or a range ("4-500"). */
  executions: string;
  metric: string;
  system: string;
  value: number;
  unit: string;
}

export const PAPER_CSV_URL: URL = new URL('../../../bench/reference/cwasi-paper.csv', import.meta.url);

const COLUMNS = ['experiment', 'payload_mib', 'executions', 'metric', 'system', 'value', 'unit'] as const;

/** Splits one CSV line; double-quoted fields may hold commas and doubled quotes. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      out.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  if (quoted) throw new Error(`unterminated quote in CSV line: ${line}`);
  out.push(field);
  return out.map((f) => f.trim());
}

/** Parses the reference CSV text. Throws on a wrong header or a malformed row (with its line number). */
export function parsePaperCsv(text: string): PaperRow[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '');
  if (header.join(',') !== COLUMNS.join(',')) {
    throw new Error(`paper reference CSV: expected header "${COLUMNS.join(',')}", got "${lines[0] ?? ''}"`);
  }
  const rows: PaperRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const f = splitCsvLine(line);
    if (f.length !== COLUMNS.length) {
      throw new Error(`paper reference CSV line ${i + 1}: expected ${COLUMNS.length} fields, got ${f.length}`);
    }
    const [experiment, mib, executions, metric, system, value, unit] = f as [string, string, string, string, string, string, string];
    const payloadMiB = Number(mib);
    const v = Number(value);
    if (mib === '' || !Number.isFinite(payloadMiB) || payloadMiB <= 0) {
      throw new Error(`paper reference CSV line ${i + 1}: bad payload_mib "${mib}"`);
    }
    if (value === '' || !Number.isFinite(v)) throw new Error(`paper reference CSV line ${i + 1}: bad value "${value}"`);
    if (!/^\d+(-\d+)?$/.test(executions)) {
      throw new Error(`paper reference CSV line ${i + 1}: bad executions "${executions}"`);
    }
    if (experiment === '' || metric === '' || system === '' || unit === '') {
      throw new Error(`paper reference CSV line ${i + 1}: empty field`);
    }
    rows.push({ experiment, payloadMiB, executions, metric, system, value: v, unit });
  }
  return rows;
}

let cached: PaperRow[] | undefined;

/** Reads and parses a reference CSV (default: the bundled one, read once and cached). */
export function loadPaperReference(url: URL | string = PAPER_CSV_URL): PaperRow[] {
  const isDefault = url === PAPER_CSV_URL;
  if (isDefault && cached !== undefined) return cached;
  const rows = parsePaperCsv(readFileSync(url, 'utf8'));
  if (isDefault) cached = rows;
  return rows;
}

/** Are two payload sizes the same (within 5%, so that 2 MB and 2 MiB match)? */
export function sameMiB(a: number, b: number): boolean {
  return Math.abs(a - b) <= 0.05 * Math.max(Math.abs(a), Math.abs(b));
}

export interface PaperQuery {
  experiment?: string;
  payloadMiB?: number;
  executions?: string;
  metric?: string;
  system?: string;
}

/** Every published row matching the query (unset fields match anything). */
export function paperRows(query: PaperQuery = {}, rows: readonly PaperRow[] = loadPaperReference()): PaperRow[] {
  return rows.filter((r) =>
    (query.experiment === undefined || r.experiment === query.experiment) &&
    (query.payloadMiB === undefined || sameMiB(r.payloadMiB, query.payloadMiB)) &&
    (query.executions === undefined || r.executions === query.executions) &&
    (query.metric === undefined || r.metric === query.metric) &&
    (query.system === undefined || r.system === query.system));
}

/**
 * The published value for one experiment, size, metric and system, or undefined when the
 * source has none. Without `executions` the row must be unique: where several exist (the
 * reproduction's fan-out at 10 and 100 executions) this throws, naming the choices.
 */
export function paperValue(
  experiment: string,
  payloadMiB: number,
  metric: string,
  system: string,
  executions?: string,
  rows: readonly PaperRow[] = loadPaperReference(),
): number | undefined {
  const found = paperRows(executions === undefined
    ? { experiment, payloadMiB, metric, system }
    : { experiment, payloadMiB, metric, system, executions }, rows);
  if (found.length > 1) {
    throw new Error(`paperValue(${experiment}, ${payloadMiB} MiB, ${metric}, ${system}): ${found.length} rows, ` +
      `pass executions (one of ${found.map((r) => r.executions).join(', ')})`);
  }
  return found[0]?.value;
}

/** The payload sizes (MiB, ascending) for which the source has a value. */
export function paperSizes(experiment: string, metric: string, system?: string, rows: readonly PaperRow[] = loadPaperReference()): number[] {
  const q: PaperQuery = system === undefined ? { experiment, metric } : { experiment, metric, system };
  return [...new Set(paperRows(q, rows).map((r) => r.payloadMiB))].sort((a, b) => a - b);
}
