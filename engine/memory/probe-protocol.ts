// Messages between the main thread and a module probe's worker
// (memory/probe-runner.ts ↔ memory/probe-worker.ts). One request per worker,
// one reply. A WebAssembly.Module crosses by structured clone (the compiled
// code is shared, not recompiled); errors cross as records (errors.ts).

import type { ErrorRecord } from '../errors.js';
import type { ModuleInfo } from './inspect.js';

/** Find a compiled module's memory import and static region (memory/module-probe.ts). */
export interface ProbeModuleRequest {
  type: 'probe-module';
  module: WebAssembly.Module;
}

/** Call the module's cwasi_abi_version in a throwaway instance (`cwasi inspect`). */
export interface AbiVersionRequest {
  type: 'abi-version';
  module: WebAssembly.Module;
  initialPages: number;
  maximumPages: number;
}

export type ProbeRequest = ProbeModuleRequest | AbiVersionRequest;

export interface ProbedReply {
  type: 'probed';
  info: ModuleInfo;
}

export interface AbiVersionReply {
  type: 'abi-version';
  /** undefined when the module has no such export or the call trapped. */
  version: number | undefined;
}

export interface ProbeFailedReply {
  type: 'failed';
  error: ErrorRecord;
}

export type ProbeReply = ProbedReply | AbiVersionReply | ProbeFailedReply;
