// A progress bar on stderr for long commands (`cwasi run --repeat`, the
// benchmarks); nothing at all when stderr is not a terminal, so that piped and
// captured output stays clean.

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
