// `cwasi bench --contend N`: N CPU-bound processes beside the measurement
// (references included), for numbers as a shared host or a busy service
// gives them. Each is a Node process spinning on the clock; they are stopped
// by pid when the benchmark ends (also on SIGINT/SIGTERM), and each exits by
// itself after MAX_CONTEND_S, so none outlives a killed run.

import { spawn, type ChildProcess } from 'node:child_process';

/** The longest a contending process lives, whatever happens to the run that started it. */
const MAX_CONTEND_S = 3600;

export interface Contention {
  readonly count: number;
  stop(): void;
}

/** Start `count` spinning processes (none for 0). */
export function contend(count: number): Contention {
  const script = `const end = Date.now() + ${MAX_CONTEND_S * 1000}; let x = 0; while (Date.now() < end) x++;`;
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    child.on('error', () => {}); // a process that could not start contends with nothing
    children.push(child);
  }
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
    process.off('exit', stop);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stop();
    process.kill(process.pid, signal);
  };
  if (count > 0) {
    process.once('exit', stop);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return { count, stop };
}
