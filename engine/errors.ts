// Typed errors with stable codes. Every failure the engine reports is a
// CwasiError whose `code` is one of ERROR_CODES; the error table of docs/api.md lists
// them. Errors cross threads and sockets as plain records (`toRecord`) and are
// rebuilt by code on the other side (`fromRecord`), because structured clone
// keeps only an Error's message and stack.

export const ERROR_CODES = {
  E_CONFIG: 'invalid engine or CLI options; an unknown option key is refused naming the nearest known one',
  E_INVALID_ARG: 'an argument of an API call has the wrong type (an input that is not a Uint8Array, a target that is not a string)',
  E_IO: 'a file could not be read or written (a missing workflow, module, source, secret or credentials file; CLI exit 1)',
  E_DEPENDENCY_MISSING: 'an optional package this feature needs is not installed',
  E_BUILD: 'a function does not compile: asc\'s diagnostics are in the message and in details.diagnostics',
  E_WORKFLOW_INVALID: 'the workflow document is malformed or its graph is not a DAG',
  E_UNKNOWN_FUNCTION: 'no deployed function or workflow has this name',
  E_WASM_MISSING: 'the wasm file of a function could not be read',
  E_WASM_INVALID: 'the module is not valid wasm or does not implement the cwasi guest ABI',
  E_EMBED_REFUSED: 'functions that are not trusted or not in one trust domain cannot share a memory',
  E_MODE_REFUSED: 'a forced IFC mode names no edge of the target or cannot serve the edge it names',
  E_EMBED_OVERLAP: 'two modules of an embedding group have overlapping static data',
  E_FUNCTION_TRAP: 'the function trapped (unreachable, out of bounds, abort)',
  E_FUNCTION_FAILED: 'the function reported a failure through the SDK',
  E_GUEST_CALL: 'a call started from inside a function failed',
  E_PAYLOAD_TOO_LARGE: 'a payload exceeds the configured limit',
  E_MEMORY_LIMIT: 'a function memory reached its maximum size',
  E_MEMORY_CORRUPT: 'a function memory\'s heap metadata is inconsistent; the memory is discarded',
  E_BAD_DESCRIPTOR: 'a length or offset crossing a boundary failed its bounds check',
  E_ABORTED: 'the invocation was aborted by its AbortSignal',
  E_TIMEOUT: 'the invocation exceeded its deadline, or probing a module (a compiled module at deploy, `cwasi inspect`) ran past its time bound',
  E_QUEUE_FULL: 'the engine queue is full',
  E_CLOSED: 'the engine is closed',
  E_WORKER_DIED: 'the worker running the function (or probing its module) died',
  E_CHANNEL: 'an inter-function channel failed or was reset',
  E_NET: 'a networked buffer connection failed',
  E_AUTH: 'a peer failed cluster authentication',
  E_NAME_TAKEN: 'another live node of the cluster already has this name',
  E_REDIS: 'the Redis server failed or is unreachable',
  E_NATS: 'the NATS server failed or is unreachable',
  E_NETNS_UNAVAILABLE: 'network namespaces for a cross-host benchmark cannot be had (not root, not Linux, no iproute2 or servers, or their set-up failed)',
  E_INPUT: 'a batch input could not be read (a missing or changed file, a malformed record stream)',
  E_INTERNAL: 'an engine invariant was violated (a bug)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Fields an error's `details` may carry, by where it came from. Any code may
 * arrive from another node over a stream (an ABORT frame): those carry the
 * peer fields.
 */
export type PeerDetails = {
  /** The node on the other end. */
  peer?: string;
  /** Its Networked Buffer address. */
  address?: string;
  /** The stream the error is about. */
  streamId?: number;
  /** The peer reported it (an ABORT frame), rather than this node finding it. */
  remote?: boolean;
  /** A short stable word for what happened (e.g. 'epoch', 'not-alive', 'unverified-record', 'socket-error', 'handshake-timeout'). */
  reason?: string;
};

/** `details` of each code (every field optional: which are set depends on where the error arose). */
export type ErrorDetailsByCode = {
  /** The option (library: its path, `cluster.listen`; CLI: also its `flag`; build: the asc option) and the nearest valid name, or the file or setting at fault. */
  E_CONFIG: PeerDetails & { option?: string; flag?: string; nearest?: string; key?: string; config?: string; source?: string; transform?: string; function?: string; stream?: string; settings?: string[] };
  /** The argument at fault: 'input', 'target', ... */
  E_INVALID_ARG: { argument?: string };
  /** The file or path that could not be read or written. */
  E_IO: { file?: string; path?: string; option?: string };
  E_DEPENDENCY_MISSING: { package?: string; version?: string };
  /** asc's output. */
  E_BUILD: { source?: string; diagnostics?: string };
  E_WORKFLOW_INVALID: { problems?: string[]; function?: string; deployed?: string; given?: string };
  E_UNKNOWN_FUNCTION: PeerDetails;
  E_WASM_MISSING: { function?: string };
  E_WASM_INVALID: { function?: string; problems?: string[] };
  E_EMBED_REFUSED: { caller?: string; callee?: string; mode?: string; reason?: string; edge?: string };
  E_MODE_REFUSED: { caller?: string; callee?: string; mode?: string; reason?: string; edge?: string };
  /** The functions whose static data collide, and a `cwasi build --base` that would clear them. */
  E_EMBED_OVERLAP: { functions?: string[]; suggestedBase?: number };
  E_FUNCTION_TRAP: PeerDetails & { function?: string };
  /** The guest's own failure code, and the limit a failed call hit further down, if one did. */
  E_FUNCTION_FAILED: PeerDetails & { function?: string; guestCode?: number; limit?: string };
  E_GUEST_CALL: PeerDetails & { limit?: string };
  E_PAYLOAD_TOO_LARGE: PeerDetails;
  E_MEMORY_LIMIT: PeerDetails & { function?: string; needBytes?: number; maxBytes?: number; requestedBytes?: number };
  E_MEMORY_CORRUPT: PeerDetails & { function?: string };
  E_BAD_DESCRIPTOR: PeerDetails;
  E_ABORTED: PeerDetails;
  /** A time bound that was exceeded, when it is not the invocation's deadline. */
  E_TIMEOUT: PeerDetails & { boundMs?: number };
  E_QUEUE_FULL: PeerDetails;
  E_CLOSED: PeerDetails;
  E_WORKER_DIED: PeerDetails;
  E_CHANNEL: PeerDetails;
  /** For `reason: 'epoch'`, the incarnation the node answering is in. */
  E_NET: PeerDetails & { node?: string; host?: string; port?: number; epoch?: number; code?: string };
  E_AUTH: PeerDetails;
  E_NAME_TAKEN: PeerDetails;
  E_REDIS: PeerDetails;
  E_NATS: PeerDetails;
  E_NETNS_UNAVAILABLE: { tag?: string };
  /** `reported`: the CLI already printed each failed input. */
  E_INPUT: PeerDetails & { reported?: boolean };
  E_INTERNAL: PeerDetails;
};

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Every code's fields at once: the `details` of a CwasiError whose code is not narrowed. */
export type AnyErrorDetails = UnionToIntersection<ErrorDetailsByCode[ErrorCode]>;

/** The `details` type of one code. */
export type ErrorDetails<C extends ErrorCode> = ErrorDetailsByCode[C];

/** A CwasiError known to have code `C`, its details typed for that code (see isCwasiError). */
export type CwasiErrorOf<C extends ErrorCode> = CwasiError & { readonly code: C; readonly details: ErrorDetails<C> | undefined };

/** What crosses a thread with an error besides its code: where it was thrown, and what caused it. */
interface ErrorOrigin {
  /** The stack where the error was thrown (a worker's). */
  stack?: string;
  /** The error's cause, as far as it can be carried: a guest trap's RuntimeError (with the wasm frames), a socket error. */
  cause?: { name: string; message: string; stack?: string };
}

/** The serialisable form of a CwasiError (crosses threads and sockets). */
export interface ErrorRecord extends ErrorOrigin {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Stacks carried across a thread are cut to this many characters. */
const MAX_CARRIED_STACK = 8192;

function carriedCause(cause: unknown): ErrorOrigin['cause'] | undefined {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) return { name: 'Error', message: String(cause).slice(0, 1024) };
  const out: NonNullable<ErrorOrigin['cause']> = { name: cause.name, message: cause.message.slice(0, 4096) };
  if (typeof cause.stack === 'string') out.stack = cause.stack.slice(0, MAX_CARRIED_STACK);
  return out;
}

/**
 * Every failure cwasi reports. `code` is stable (ERROR_CODES); `details` is
 * typed per code (ErrorDetailsByCode); `cause` is what led to it (an abort
 * signal's reason, a guest trap's RuntimeError, a socket error). Narrow with
 * `isCwasiError(err, 'E_IO')` to read one code's details with their types.
 */
export class CwasiError extends Error {
  readonly code: ErrorCode;
  /** Every code's fields are allowed here; `isCwasiError(err, code)` narrows them to one code's. */
  readonly details: AnyErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: AnyErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CwasiError';
    this.code = code;
    this.details = details;
  }

  /**
   * The plain record that crosses a thread or a socket. `origin`: also carry
   * where it was thrown and its cause (worker → main thread), so the error
   * rebuilt there keeps both.
   */
  toRecord(origin = false): ErrorRecord {
    const r: ErrorRecord = { code: this.code, message: this.message };
    if (this.details !== undefined) r.details = this.details as Record<string, unknown>;
    if (origin) {
      if (typeof this.stack === 'string') r.stack = this.stack.slice(0, MAX_CARRIED_STACK);
      const cause = carriedCause(this.cause);
      if (cause !== undefined) r.cause = cause;
    }
    return r;
  }

  /**
   * The error a record describes. A carried stack comes first in the rebuilt
   * error's `stack`, then this thread's frames below an "at <thread boundary>"
   * line; a carried cause becomes `cause` (an Error of the same name, message and stack).
   */
  static fromRecord(record: ErrorRecord): CwasiError {
    const code = isErrorCode(record.code) ? record.code : 'E_INTERNAL';
    const c = record.cause;
    let cause: Error | undefined;
    if (c !== null && typeof c === 'object' && typeof c.message === 'string') {
      cause = new Error(c.message);
      cause.name = typeof c.name === 'string' ? c.name : 'Error';
      if (typeof c.stack === 'string') cause.stack = c.stack;
    }
    const err = new CwasiError(code, String(record.message), record.details as AnyErrorDetails | undefined, cause === undefined ? undefined : { cause });
    if (typeof record.stack === 'string' && typeof err.stack === 'string') {
      const here = err.stack.split('\n').slice(1).join('\n');
      err.stack = `${record.stack.slice(0, MAX_CARRIED_STACK)}\n    at <thread boundary>${here === '' ? '' : `\n${here}`}`;
    }
    return err;
  }
}

/** Whether `err` is a CwasiError (of `code`, when given): narrows `details` to that code's type. */
export function isCwasiError<C extends ErrorCode = ErrorCode>(err: unknown, code?: C): err is CwasiErrorOf<C> {
  return err instanceof CwasiError && (code === undefined || err.code === code);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/**
 * Any thrown value as an ErrorRecord (unknown errors become `fallback`).
 * `origin`: carry the stack and cause too (a worker's error on its way to the main thread).
 */
export function toErrorRecord(err: unknown, fallback: ErrorCode = 'E_INTERNAL', origin = false): ErrorRecord {
  if (err instanceof CwasiError) return err.toRecord(origin);
  if (err instanceof Error) {
    const r: ErrorRecord = { code: fallback, message: err.message };
    if (origin && typeof err.stack === 'string') r.stack = err.stack.slice(0, MAX_CARRIED_STACK);
    return r;
  }
  return { code: fallback, message: String(err) };
}

/** Any thrown value as a CwasiError. */
export function asCwasiError(err: unknown, fallback: ErrorCode = 'E_INTERNAL'): CwasiError {
  if (err instanceof CwasiError) return err;
  return new CwasiError(fallback, err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

/** `p`, or a rejection with the signal's reason as soon as it aborts (`p` is left to settle alone). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(asCwasiError(signal.reason, 'E_ABORTED'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(asCwasiError(signal.reason, 'E_ABORTED'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
