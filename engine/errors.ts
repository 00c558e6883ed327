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

/** The serialisable form of a CwasiError (crosses threads and sockets). */
export interface ErrorRecord {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export class CwasiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CwasiError';
    this.code = code;
    this.details = details;
  }

  toRecord(): ErrorRecord {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromRecord(record: ErrorRecord): CwasiError {
    const code = isErrorCode(record.code) ? record.code : 'E_INTERNAL';
    return new CwasiError(code, String(record.message), record.details);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** Any thrown value as an ErrorRecord (unknown errors become E_INTERNAL). */
export function toErrorRecord(err: unknown, fallback: ErrorCode = 'E_INTERNAL'): ErrorRecord {
  if (err instanceof CwasiError) return err.toRecord();
  if (err instanceof Error) return { code: fallback, message: err.message };
  return { code: fallback, message: String(err) };
}

/** Any thrown value as a CwasiError. */
export function asCwasiError(err: unknown, fallback: ErrorCode = 'E_INTERNAL'): CwasiError {
  if (err instanceof CwasiError) return err;
  return new CwasiError(fallback, err instanceof Error ? err.message : String(err), undefined, { cause: err });
}
