// Runs a module probe on a thread of its own under a hard time bound, so that
// nothing of a module the engine has not accepted runs on the main thread
// (DESIGN.md, Safety model). A probe instantiates the module
// (memory/module-probe.ts says why it must), and instantiation runs a start
// section, which may never return and calls no import that could stop it: the
// only way to stop it is to terminate its thread. Each probe gets a fresh
// worker_threads Worker rather than one of the pool's: a pool worker stuck in
// a probe would be one fewer for invocations until terminated, and the pool's
// workers carry the guest host, which a probe must not reach.

import { Worker } from 'node:worker_threads';
import { CwasiError } from '../errors.js';
import type { ModuleInfo } from './inspect.js';
import type { ProbeReply, ProbeRequest } from './probe-protocol.js';

/**
 * How long a probe may take, worker start-up included. A cwasi module's probe
 * takes tens of milliseconds; the bound leaves room for a loaded machine and
 * keeps a deploy or an inspect that meets a looping module well under 5 s.
 */
export const PROBE_TIME_BOUND_MS = 2000;

const WORKER_URL = new URL('./probe-worker.js', import.meta.url);

/** One probe: a worker, its request, and the first of reply, death or the bound. */
function runProbe(request: ProbeRequest, timedOut: (boundMs: number) => string, boundMs = PROBE_TIME_BOUND_MS): Promise<Exclude<ProbeReply, { type: 'failed' }>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL);
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(() => settle(() => {
      // Stops the module's code wherever it is, a wasm loop included.
      void worker.terminate();
      reject(new CwasiError('E_TIMEOUT', timedOut(boundMs), { boundMs }));
    }), boundMs);
    worker.once('message', (reply: ProbeReply) => settle(() => {
      // The worker closes its port and ends by itself: nothing of the module runs after its reply.
      worker.unref();
      if (reply.type === 'failed') reject(CwasiError.fromRecord(reply.error));
      else resolve(reply);
    }));
    worker.once('error', (err) => settle(() => {
      void worker.terminate();
      reject(new CwasiError('E_WORKER_DIED', `the worker probing the module failed: ${err.message}`, undefined, { cause: err }));
    }));
    worker.once('exit', (code) => settle(() => {
      reject(new CwasiError('E_WORKER_DIED', `the worker probing the module exited (code ${code}) without an answer`));
    }));
    worker.postMessage(request);
  });
}

/** ModuleInfo of a compiled module (memory/module-probe.ts), found in a worker. E_WASM_INVALID, or E_TIMEOUT at the bound. */
export async function probeInWorker(module: WebAssembly.Module): Promise<ModuleInfo> {
  const reply = await runProbe({ type: 'probe-module', module },
    (ms) => `probing the compiled module did not finish within ${ms} ms, so its worker was stopped (a start section that never returns? a cwasi guest has none)`);
  if (reply.type !== 'probed') throw unexpected(reply.type);
  return reply.info;
}

/** What the module's cwasi_abi_version returns, called in a worker (undefined when it traps). E_TIMEOUT at the bound. */
export async function abiVersionInWorker(module: WebAssembly.Module, initialPages: number, maximumPages: number, file: string): Promise<number | undefined> {
  const reply = await runProbe({ type: 'abi-version', module, initialPages, maximumPages },
    (ms) => `${file}: cwasi_abi_version did not return within ${ms} ms, so the worker calling it was stopped`);
  if (reply.type !== 'abi-version') throw unexpected(reply.type);
  return reply.version;
}

function unexpected(type: string): CwasiError {
  return new CwasiError('E_INTERNAL', `the module probe's worker answered "${type}" to another request`);
}
