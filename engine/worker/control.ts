// The control plane between the main thread and each worker: comlink RPC over
// a MessagePort the worker sends in its hello. Only for control — statistics,
// dropping a discarded memory, flushing coverage — never for payloads or the
// per-task path (tasks go through Piscina, data through memories and rings).
//
// The pool runs with Piscina's `atomics: 'async'`, so an idle worker's event
// loop runs and answers at once; a worker busy in a long task answers when the
// task ends, so every call from the main thread is bounded by a timeout.

import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CwasiError } from '../errors.js';
import type { InstanceHeapFigures } from './host.js';

/** What a worker reports about itself. */
export interface WorkerStats {
  threadId: number;
  /** Memory groups it holds instances of. */
  groups: Array<{
    groupId: string; generation: number; version: number; instances: string[];
    /** Each instance's own heap: regions held, live bytes after its last collection, collections, pins. */
    heaps: Record<string, InstanceHeapFigures>;
  }>;
  /** Shared objects it has been given. */
  rings: number;
  /** Journal state: the task it runs now, if any. */
  runningTask: number | undefined;
  heapUsedBytes: number;
}

/** The API each worker exposes to the main thread. */
export interface WorkerControl {
  stats(): WorkerStats;
  /** Drop the instances of a memory group generation that was discarded; true when it held some. */
  dropGroup(groupId: string, generation: number): boolean;
  /** Write this thread's coverage now (a terminated thread writes none). */
  flushCoverage(): boolean;
}

/** Worker side: serve `api` on `port`. */
export function serveControl(api: WorkerControl, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port as unknown as Parameters<typeof nodeEndpoint>[0]));
  port.unref();
}

/** Main side: a proxy for a worker's control API. */
export function controlOf(port: MessagePort): Comlink.Remote<WorkerControl> {
  const remote = Comlink.wrap<WorkerControl>(nodeEndpoint(port as unknown as Parameters<typeof nodeEndpoint>[0]));
  port.unref();
  return remote;
}

/** A control call that gives up after `ms` (the worker may be busy in a long task). */
export async function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        // Referenced: the control port is not, and a pending call must keep the process alive.
        timer = setTimeout(() => reject(new CwasiError('E_TIMEOUT', `worker did not answer ${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
