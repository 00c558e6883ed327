// A progress bar on stderr for long commands (`cwasi run --repeat`, the
// benchmarks); nothing at all when stderr is not a terminal, so that piped and
// captured output stays clean.

import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number, what?: string): void;
  stop(): void;
}

/** A progress bar on a terminal (stderr), nothing otherwise. */
export function progress(enabled: boolean, total: number, label: string): Progress {
  if (!enabled || !process.stderr.isTTY) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {value}/{total} | {what}`,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { what: '' });
  return {
    tick(n = 1, what = '') {
      bar.increment(n, { what });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The batch bar: like `progress`, plus `log` for a line printed above the bar. */
export interface BatchProgress {
  tick(): void;
  /**
   * Print `line` on its own line through `write` (default: the fallback the
   * bar was made with): the bar is cleared first and redrawn below it.
   */
  log(line: string, write?: (line: string) => void): void;
  stop(): void;
}

/**
 * A batch run's bar with rate and ETA (count and rate only when the total is
 * unknown), on `stream` when it is a terminal; `log` then writes through `fallback`.
 */
export function batchProgress(enabled: boolean, total: number | undefined, fallback: (line: string) => void, stream: Writable & { isTTY?: boolean } = process.stderr): BatchProgress {
  if (!enabled || stream.isTTY !== true) return { tick() {}, log: (line, write = fallback) => write(line), stop() {} };
  const known = total !== undefined;
  const bar = new cliProgress.SingleBar({
    stream,
    format: known ? 'batch [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}' : 'batch {value} inputs | {rate}/s',
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const start = performance.now();
  let n = 0;
  let running = true;
  bar.start(total ?? 0, 0, { rate: '0' });
  return {
    tick() {
      n++;
      bar.update(n, { rate: (n / ((performance.now() - start) / 1000)).toFixed(1) });
    },
    log(line: string, write = fallback) {
      if (!running) return write(line);
      // Carriage return and erase the line: the bar's text goes, the line takes its place, the bar comes back below.
      stream.write('\r\x1b[2K');
      write(line);
      bar.render();
    },
    stop() {
      running = false;
      bar.stop();
    },
  };
}
