// A tiny WebAssembly binary writer for tests that need modules the SDK would
// never produce (wrong ABI version, out-of-bounds outputs, overlapping static
// data, foreign imports). Only what those tests use is supported.

import { leb } from '../../engine/memory/static-data.js';

export const I32 = 0x7f;

export interface FuncDef {
  name?: string; // exported under this name when set
  params: number[];
  results: number[];
  /** Body bytecode without locals header and without the final `end`. */
  body: number[];
  /** i32 locals after the parameters (indices params.length, params.length + 1, ...). */
  locals?: number;
}

export interface ImportFunc {
  module: string;
  name: string;
  params: number[];
  results: number[];
}

export interface ModuleDef {
  memory?: { module?: string; name?: string; min: number; max?: number; shared?: boolean };
  imports?: ImportFunc[];
  funcs: FuncDef[];
  data?: Array<{ offset: number; bytes: number[] }>;
  /**
   * A mutable i32 global with this initial value, exported as `__stack_pointer`,
   * beside a mutable `__stack_limit` (0): what the cwasi build transform exports.
   */
  stackPointer?: number;
  /** Leave `__stack_limit` out (a module built with an older transform). */
  noStackLimit?: boolean;
  /**
   * Body of an unexported `() -> ()` function named by a start section: run by
   * every instantiation, before the host can do anything (a cwasi build never
   * emits one).
   */
  start?: number[];
}

const uleb = leb;

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** i32.const n */
export const i32c = (n: number): number[] => [0x41, ...sleb(n | 0)];
/** call function index i */
export const call = (i: number): number[] => [0x10, ...uleb(i)];
export const localGet = (i: number): number[] => [0x20, ...uleb(i)];
export const DROP = 0x1a;
export const UNREACHABLE = 0x00;
/** `loop br 0 end`: never ends, calls nothing (only a deadline stops it). */
export const LOOP_FOREVER = [0x03, 0x40, 0x0c, 0x00, 0x0b];

export function buildModule(def: ModuleDef): Uint8Array {
  const types: number[][] = [];
  const typeIndex = (params: number[], results: number[]): number => {
    const t = [0x60, ...uleb(params.length), ...params, ...uleb(results.length), ...results];
    const key = t.join(',');
    const found = types.findIndex((x) => x.join(',') === key);
    if (found >= 0) return found;
    types.push(t);
    return types.length - 1;
  };
  const imports: number[][] = [];
  for (const f of def.imports ?? []) imports.push([...str(f.module), ...str(f.name), 0x00, ...uleb(typeIndex(f.params, f.results))]);
  if (def.memory) {
    const m = def.memory;
    const flags = (m.max !== undefined ? 1 : 0) | (m.shared ? 2 : 0);
    imports.push([...str(m.module ?? 'env'), ...str(m.name ?? 'memory'), 0x02, flags, ...uleb(m.min), ...(m.max !== undefined ? uleb(m.max) : [])]);
  }
  const nImports = (def.imports ?? []).length;
  const funcs: FuncDef[] = def.start === undefined ? def.funcs : [...def.funcs, { params: [], results: [], body: def.start }];
  const startIndex = def.start === undefined ? undefined : nImports + funcs.length - 1;
  const funcTypes = funcs.map((f) => uleb(typeIndex(f.params, f.results)));
  const exports = def.funcs
    .map((f, i) => (f.name === undefined ? undefined : [...str(f.name), 0x00, ...uleb(nImports + i)]))
    .filter((x): x is number[] => x !== undefined);
  const globals: number[][] = [];
  if (def.stackPointer !== undefined) {
    globals.push([I32, 0x01, ...i32c(def.stackPointer), 0x0b]);
    exports.push([...str('__stack_pointer'), 0x03, ...uleb(0)]);
    if (def.noStackLimit !== true) {
      globals.push([I32, 0x01, ...i32c(0), 0x0b]);
      exports.push([...str('__stack_limit'), 0x03, ...uleb(1)]);
    }
  }
  const code = funcs.map((f) => {
    const locals = f.locals ?? 0;
    const body = [...(locals > 0 ? [0x01, ...uleb(locals), I32] : [0x00]), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const data = (def.data ?? []).map((d) => [0x00, ...i32c(d.offset), 0x0b, ...uleb(d.bytes.length), ...d.bytes]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(imports.length ? section(2, vec(imports)) : []),
    ...section(3, vec(funcTypes)),
    ...(globals.length ? section(6, vec(globals)) : []),
    ...section(7, vec(exports)),
    ...(startIndex !== undefined ? section(8, uleb(startIndex)) : []),
    ...section(10, vec(code)),
    ...(data.length ? section(11, vec(data)) : []),
  ];
  return new Uint8Array(bytes);
}

/**
 * The runtime exports the engine requires (ABI.md, "Runtime exports"), as
 * stubs that never allocate: `cwasi_rt_init(pinTable, slots, stackTop)` and
 * `cwasi_rt_collect() → live bytes`.
 */
export const RT_STUBS: FuncDef[] = [
  { name: 'cwasi_rt_init', params: [I32, I32, I32], results: [], body: [] },
  { name: 'cwasi_rt_collect', params: [], results: [I32], body: i32c(0) },
];

/** Where hand-built modules' default shadow stack pointer starts (the host moves it). */
export const HAND_BUILT_STACK_POINTER = 65536;

/**
 * A module that speaks the cwasi ABI by hand: `cwasi_main` calls
 * cwasi.output(outPtr, outLen) and returns `status`; `cwasi_abi_version`
 * returns `version`. The runtime exports are stubs that never allocate; the
 * stack pointer and `_start` are there as the cwasi build emits them.
 */
export function abiModule(opts: {
  version?: number; outPtr?: number; outLen?: number; status?: number; data?: ModuleDef['data']; memoryImport?: ModuleDef['memory'];
  /** Leave out the exported stack pointer / `_start` (a module built without the cwasi flags). */
  noStackPointer?: boolean; noStart?: boolean;
  /** `cwasi_abi_version`'s body instead of returning `version` (it must leave an i32). */
  abiVersionBody?: number[];
  /** A start section running this body (ModuleDef.start). */
  start?: number[];
} = {}): Uint8Array {
  const output: ImportFunc = { module: 'cwasi', name: 'output', params: [I32, I32], results: [] };
  return buildModule({
    memory: opts.memoryImport ?? { min: 1, max: 65536, shared: true },
    imports: [output],
    funcs: [
      { name: 'cwasi_main', params: [I32, I32], results: [I32], body: [...i32c(opts.outPtr ?? 0), ...i32c(opts.outLen ?? 0), ...call(0), ...i32c(opts.status ?? 0)] },
      { name: 'cwasi_abi_version', params: [], results: [I32], body: opts.abiVersionBody ?? i32c(opts.version ?? 2) },
      ...RT_STUBS,
      ...(opts.noStart === true ? [] : [{ name: '_start', params: [], results: [], body: [] }]),
    ],
    ...(opts.noStackPointer === true ? {} : { stackPointer: HAND_BUILT_STACK_POINTER }),
    ...(opts.data ? { data: opts.data } : {}),
    ...(opts.start ? { start: opts.start } : {}),
  });
}

/** i32.load / i32.store with a constant offset (natural alignment). */
export const i32load = (offset = 0): number[] => [0x28, 0x02, ...uleb(offset)];
export const i32store = (offset = 0): number[] => [0x36, 0x02, ...uleb(offset)];
export const localSet = (i: number): number[] => [0x21, ...uleb(i)];

/**
 * `buildModule` plus what the cwasi build always emits and the engine
 * requires of every guest: an empty `_start` and the exported stack pointer
 * and limit (the host gives each instance its own stack).
 */
export function guestModule(def: ModuleDef): Uint8Array {
  return buildModule({
    stackPointer: HAND_BUILT_STACK_POINTER,
    ...def,
    funcs: [...def.funcs, { name: '_start', params: [], results: [], body: [] }],
  });
}
