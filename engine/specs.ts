// How a task's inputs arrive and its outputs leave, as plain data: the
// vocabulary shared by the channels (engine/channels/), the Request
// Dispatcher and the workers. Types only; it sits below all three, so none of
// them imports another's internals for these shapes.


/** A memory named by group and generation; a discarded generation is refused. */
export interface MemoryRef {
  groupId: string;
  generation: number;
}

/** A byte range in a function memory. */
export interface MemorySlice extends MemoryRef {
  ptr: number;
  len: number;
}

/** Where one input of a step comes from; the kind names the channel's endpoint. */
export type InputSpec =
  /** `copy`: bytes cloned into the task message. Also how small engine inputs arrive. */
  | { kind: 'bytes'; bytes: Uint8Array }
  /**
   * `embedded`: bytes already in the step's own memory, read in place (zero
   * copy). `gate` (engine/channels/landing-gate.ts): the bytes of a networked
   * stream are still landing there; the worker waits on it before the step runs.
   */
  | ({ kind: 'shared'; gate?: SharedArrayBuffer } & MemorySlice)
  /** `local` (guest-call results): bytes in another memory; the host copies them across once. */
  | ({ kind: 'foreign' } & MemorySlice)
  /**
   * `local`: frames arrive through a ring (engine/ring/ring.ts): DATA frames
   * carry bytes, a DESC frame points into `sources[i]`, which only the host reads.
   */
  | {
    kind: 'ring'; ringId: number; sources: MemoryRef[];
    /** How long the consumer spins on the ring before it sleeps (ms, at most CONSUMER_SPIN_MS, which applies when absent). */
    spinMs?: number;
    /**
     * When the producer is expected to be done (ms, performance.timeOrigin +
     * performance.now()): a consumer allowed to poll (a core is idle) sleeps
     * until shortly before and polls until a little after, so that the
     * handoff does not wait for a thread to wake (engine/ring/ring.ts pollNear).
     */
    readyAt?: number;
    /**
     * A live stream (engine/channels/local-live.ts): the producer writes while
     * it runs and the consumer, a streaming function, reads it as its input
     * stream while it runs, never whole.
     */
    live?: boolean;
  }
  /** `remote-kv`: bytes stored in Redis under `key` in `chunks` parts. */
  | { kind: 'kv'; url: string; key: string; len: number; chunks: number }
  /** `networked` (dispatcher level, for steps on another node): a stream `from` sends under `transfer`. */
  /** A Networked Buffer stream; `live`: open-ended, read as the consumer's input stream through a ring of `windowBytes`. */
  | { kind: 'net'; transfer: string; from: string; live?: true; windowBytes?: number }
  /** Dispatcher level, for steps on another node: an output held on that node by an earlier step. */
  | { kind: 'held'; host: string; held: string };

/** What a step does with its output. Several may apply (fan-out to mixed modes). */
export interface OutputSpec {
  /** Keep the output in the memory and return its slice and arena (`embedded`, `local`). */
  keep: boolean;
  /** Copy the output out and return it as bytes (`copy`, engine results). */
  bytes: boolean;
  /**
   * Hand the output to consumers through these rings (`local`): a DESC frame,
   * or (stream) DATA frames while the consumer drains them, or (live) what a
   * streaming function writes, as it writes it (inPlace: as DESC frames
   * naming chunks of a window of windowBytes in the producer's memory, for
   * a consumer in a worker; engine/channels/local-live.ts).
   */
  rings?: Array<{ ringId: number; stream: boolean; live?: boolean; consumerStarting?: boolean; inPlace?: boolean; windowBytes?: number }>;
  /** Store the output in Redis (`remote-kv`). */
  kv?: { url: string; key: string; ttlSeconds: number; chunkBytes: number };
  /** Dispatcher level, steps on another node: keep the output there for later steps there. */
  hold?: boolean;
  /** Dispatcher level, steps on another node: stream the output to these nodes (`networked`). */
  net?: Array<{ node: string; address: string; transfer: string; live?: LiveSend }>;
}

/** Per-step timestamps (ms, performance.timeOrigin + performance.now()). */
export interface StepTiming {
  fn: string;
  /** The step's input is complete in its memory (the paper's "callee has the payload"). */
  inputReady: number;
  /** cwasi_main returned. */
  done: number;
  /** Bytes of the step's output. */
  outputBytes: number;
}

/** An arena by value (see engine/memory/heap.ts). */
export interface ArenaRef {
  id: number;
  head: number;
}

export interface KeptOutput {
  ptr: number;
  len: number;
  /** Arenas holding the output (and what it references); released by the dispatcher. */
  arenas: ArenaRef[];
}

export interface RunSuccess {
  ok: true;
  threadId: number;
  /** Present when output.keep was asked. */
  kept?: KeptOutput;
  /** Present when output.bytes was asked. */
  bytes?: Uint8Array;
  /** Present when output.kv was asked: chunks written. */
  kvChunks?: number;
  outputLength: number;
  timings: StepTiming[];
  /** How long the task's steps took in the worker, inputs placed to output emitted (ms). */
  runMs?: number;
  /** Guest log lines, when any. */
  logs?: string[];
  /** Steps that ran on another node: the id under which that node holds the output. */
  held?: string;
}

/** A live output stream sent to another node as it is written (channels/networked-live.ts). */
export interface LiveSend {
  /** The consumer was launched beside its producer (the producer waits for it to read). */
  consumerStarting: boolean;
  /** The producer's window (its ring), when it sets one. */
  windowBytes?: number;
}
