// The worker's half of every channel, in two tables: the endpoint that places
// each input kind into the consumer's memory, and the emitters that hand an
// output on as a task's OutputSpec asks (in this order: bytes out, ring
// frames, Redis). engine/worker/worker.ts calls placeInput and emitOutput and
// never asks which mode it serves.

import { CwasiError } from '../errors.js';
import type { InputSpec, OutputSpec, RunSuccess } from '../specs.js';
import type { EmitSource, Emitter, Endpoint, PlaceTarget } from './channel.js';
import { bytesEmitter, bytesEndpoint } from './copy.js';
import { sharedEndpoint } from './embedded.js';
import { foreignEndpoint, ringEmitter, ringEndpoint } from './local.js';
import { kvEmitter, kvEndpoint } from './remote-kv.js';

/** Input kinds a worker places; `net` and `held` are resolved by the dispatcher before a task starts. */
const ENDPOINTS: { [K in InputSpec['kind']]?: Endpoint<K> } = {
  bytes: bytesEndpoint,
  shared: sharedEndpoint,
  foreign: foreignEndpoint,
  ring: ringEndpoint,
  kv: kvEndpoint,
};

const EMITTERS: readonly Emitter[] = [bytesEmitter, ringEmitter, kvEmitter];

/** Place one input in the target memory; returns where it is (a promise for asynchronous endpoints). */
export function placeInput(spec: InputSpec, target: PlaceTarget): { ptr: number; len: number } | Promise<{ ptr: number; len: number }> {
  const endpoint = ENDPOINTS[spec.kind] as Endpoint | undefined;
  if (endpoint === undefined) throw new CwasiError('E_INTERNAL', `input of kind ${spec.kind} reached a worker; the dispatcher resolves it`);
  return endpoint.place(spec, target);
}

/** Hand the output on as `output` asks; a promise only when an asynchronous emitter (Redis) is involved. */
export function emitOutput(output: OutputSpec, source: EmitSource, result: RunSuccess, from = 0): void | Promise<void> {
  for (let i = from; i < EMITTERS.length; i++) {
    const e = EMITTERS[i]!;
    if (!e.wants(output)) continue;
    const done = e.emit(output, source, result);
    if (done instanceof Promise) return done.then(() => emitOutput(output, source, result, i + 1));
  }
}
