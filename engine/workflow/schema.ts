// The workflow file: JSON, validated by a JSON Schema (ajv). Errors name the
// bad field by its JSON pointer, e.g. `/functions/checksum/trusted must be
// boolean`. Graph rules that a schema cannot express (edges naming declared
// functions, no cycles) live in graph.ts.

import { Ajv, type ErrorObject } from 'ajv';
import { CwasiError } from '../errors.js';
import { IFC_MODES, type IfcMode } from '../selection.js';

export interface FunctionDecl {
  /**
   * A bundled function's name (see `cwasi functions`) or a path to a .wasm
   * file; from the API also the module's bytes or the compiled module.
   */
  module: string | Uint8Array | WebAssembly.Module;
  /** Trusted functions of one trust domain share a memory (Function Embedding). */
  trusted?: boolean;
  /** Trust domain (default "default"). */
  domain?: string;
  /** Invocations of this function that may run at once (default: unlimited). */
  replicas?: number;
  /** Engine node to run on (cluster mode); "auto" lets the coordinator choose; default: the deploying node. */
  host?: string;
  /** Largest size its memory may grow to, in bytes. */
  memoryMaxBytes?: number;
  /** Shadow stack of each of its instances, in bytes (default 64 KiB); deeper spills trap. */
  stackBytes?: number;
  /**
   * The window of its live output stream: the ring its stream flows through
   * to a streaming consumer, in bytes, rounded up to a power of two (default:
   * the engine's local.ringBytes).
   */
  streamWindowBytes?: number;
}

export interface EdgeDecl {
  from: string;
  to: string;
  /** Force an IFC mode on this edge (benchmarks, comparisons). */
  mode?: IfcMode;
}

export interface WorkflowDocument {
  name: string;
  description?: string;
  functions: Record<string, FunctionDecl>;
  edges?: EdgeDecl[];
  /** How the CLI turns --size/--seed into the workflow input. */
  input?: { kind: 'bytes' | 'producer-spec' | 'text' };
  /** The function whose output is the workflow's result (default: the only sink). */
  output?: string;
}

const NAME = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

export const workflowSchema = {
  $id: 'https://cwasi.dev/schema/workflow.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'functions'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: NAME },
    description: { type: 'string', maxLength: 2000 },
    functions: {
      type: 'object',
      minProperties: 1,
      maxProperties: 4096,
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['module'],
        properties: {
          module: { type: 'string', minLength: 1, maxLength: 4096 },
          trusted: { type: 'boolean' },
          domain: { type: 'string', pattern: NAME },
          replicas: { type: 'integer', minimum: 1, maximum: 65536 },
          host: { type: 'string', minLength: 1, maxLength: 255 },
          memoryMaxBytes: { type: 'integer', minimum: 1048576, maximum: 4294967296 },
          stackBytes: { type: 'integer', minimum: 4096, maximum: 67108864, multipleOf: 16 },
          streamWindowBytes: { type: 'integer', minimum: 65536, maximum: 268435456 },
        },
      },
    },
    edges: {
      type: 'array',
      maxItems: 100000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to'],
        properties: {
          from: { type: 'string', pattern: NAME },
          to: { type: 'string', pattern: NAME },
          mode: { enum: [...IFC_MODES] },
        },
      },
    },
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: { kind: { enum: ['bytes', 'producer-spec', 'text'] } },
    },
    output: { type: 'string', pattern: NAME },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile<WorkflowDocument>(workflowSchema);

function describe(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(document)' : e.instancePath;
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (e.keyword === 'enum') {
    return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (e.keyword === 'propertyNames') return `${where}: function name ${JSON.stringify((e.params as { propertyName: string }).propertyName)} is not allowed (letters, digits, _ . -)`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/**
 * Validate a workflow document; throws E_WORKFLOW_INVALID listing every
 * problem. A document built in code may give a module as bytes; the schema
 * (which describes files, where modules are strings) sees a placeholder.
 */
export function validateWorkflowDocument(doc: unknown, source = 'workflow'): WorkflowDocument {
  if (!validate(withModulePlaceholders(doc))) {
    const problems = (validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe);
    throw new CwasiError('E_WORKFLOW_INVALID', `${source} is invalid:\n  - ${problems.join('\n  - ')}`, { problems });
  }
  return doc as WorkflowDocument;
}

/** A shallow copy of `doc` with every module given as bytes or compiled replaced by a string. */
function withModulePlaceholders(doc: unknown): unknown {
  const fns = typeof doc === 'object' && doc !== null ? (doc as { functions?: unknown }).functions : undefined;
  if (typeof fns !== 'object' || fns === null || Array.isArray(fns)) return doc;
  let changed = false;
  const copy: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(fns)) {
    const module = typeof decl === 'object' && decl !== null ? (decl as { module?: unknown }).module : undefined;
    if (module instanceof Uint8Array || module instanceof WebAssembly.Module) {
      copy[name] = { ...(decl as object), module: '<bytes>' };
      changed = true;
    } else {
      copy[name] = decl;
    }
  }
  return changed ? { ...(doc as object), functions: copy } : doc;
}

/** Parse JSON text and validate it. */
export function parseWorkflow(text: string, source = 'workflow'): WorkflowDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CwasiError('E_WORKFLOW_INVALID', `${source} is not valid JSON: ${(err as Error).message}`);
  }
  return validateWorkflowDocument(doc, source);
}
