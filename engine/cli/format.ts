// Parsing and printing helpers shared by the CLI and the benchmarks.

import { CwasiError } from '../errors.js';

const UNITS: Record<string, number> = {
  b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};

/** "2MiB" → 2097152, "4KiB", "1GiB", "500kB", "123" (bytes). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = unit === '' ? 1 : UNITS[unit];
  if (m === null || factor === undefined) {
    throw new CwasiError('E_CONFIG', `"${text}" is not a size (examples: 2MiB, 512KiB, 1GiB, 4096)`);
  }
  const n = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(n) || n < 0) throw new CwasiError('E_CONFIG', `size "${text}" is out of range`);
  return n;
}

export function parseSizes(text: string): number[] {
  return text.split(',').filter((s) => s.trim() !== '').map(parseSize);
}

/** A link rate as tc writes it: its text (tc's own unit) and bits per second. */
export interface LinkRate {
  text: string;
  bitsPerSec: number;
}

const RATE_UNITS: Record<string, number> = { kbit: 1e3, mbit: 1e6, gbit: 1e9 };
/** The slowest and fastest `--link` rates: below 10 Mbit/s a 100 MiB row takes minutes; above 100 Gbit/s tbf is no longer the bottleneck. */
export const LINK_RATE_MIN_BITS = 10e6;
export const LINK_RATE_MAX_BITS = 100e9;

/**
 * "10gbit", "1gbit", "500mbit", "50000kbit" (tc's decimal units, whole
 * numbers only) → bits per second; anything else, or a rate outside
 * 10mbit..100gbit, is E_CONFIG.
 */
export function parseLinkRate(text: string): LinkRate {
  const m = /^([1-9]\d{0,8})(kbit|mbit|gbit)$/.exec(text);
  if (m === null) {
    throw new CwasiError('E_CONFIG', `--link "${text}" is not a link rate: a whole number and kbit, mbit or gbit, as tc writes them (examples: 10gbit, 1gbit, 500mbit)`);
  }
  const bitsPerSec = Number(m[1]) * RATE_UNITS[m[2]!]!;
  if (bitsPerSec < LINK_RATE_MIN_BITS || bitsPerSec > LINK_RATE_MAX_BITS) {
    throw new CwasiError('E_CONFIG', `--link ${text} is out of range: from 10mbit to 100gbit`);
  }
  return { text, bitsPerSec };
}

/** 2097152 → "2MiB", 1536 → "1.5KiB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CwasiError('E_CONFIG', `${what} must be a positive integer, got "${text}"`);
  return n;
}

export function parseNonNegativeInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CwasiError('E_CONFIG', `${what} must be a non-negative integer, got "${text}"`);
  return n;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** A plain text table with a header row; numbers right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[\d.,x×%µ -]+(ms|s|µs|GB\/s|req\/s)?$/.test(String(r[i]))));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/**
 * `term` and `text` as a help line of at most `width` columns: the text
 * starts at column `indent` and wraps under itself, at spaces.
 */
export function helpItem(term: string, text: string, indent: number, width = 80): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  const head = `  ${term}`.padEnd(indent);
  return lines.map((l, i) => (i === 0 ? head : ' '.repeat(indent)) + l).join('\n');
}
