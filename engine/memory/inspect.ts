// Reads what the engine must know about a guest module before instantiating
// it: its memory import (limits, shared) and the extent of its static data,
// so that modules placed in one memory can be proved not to overlap. Only the
// sections needed are decoded; everything else is skipped by length.

import { CwasiError } from '../errors.js';

export interface MemoryImport {
  module: string;
  name: string;
  initialPages: number;
  maximumPages: number | undefined;
  shared: boolean;
}

export interface StaticRegion {
  /** Lowest byte written by an active data segment (Infinity when none). */
  start: number;
  /** One past the highest byte written by an active data segment (0 when none). */
  end: number;
}

/** One active data segment: what instantiation would write at `offset`. */
export interface DataSegment {
  offset: number;
  bytes: Uint8Array;
}

export interface ModuleInfo {
  memory: MemoryImport | undefined;
  staticRegion: StaticRegion;
  /** The active data segments, in order (views of the module's bytes). */
  segments: DataSegment[];
  /** Where the data section lies in the module's bytes, header included (undefined when none). */
  dataSection: { start: number; end: number } | undefined;
  exports: string[];
  imports: Array<{ module: string; name: string; kind: string }>;
  /**
   * Whether the module has a start section (code every instantiation runs
   * before the host can set anything up); undefined when it cannot be known:
   * a compiled module's sections cannot be read (memory/module-probe.ts).
   */
  startSection: boolean | undefined;
}

const SECTION_IMPORT = 2;
const SECTION_START = 8;
const SECTION_DATA = 11;
const OP_I32_CONST = 0x41;
const OP_END = 0x0b;
const IMPORT_KIND_FUNC = 0;
const IMPORT_KIND_TABLE = 1;
const IMPORT_KIND_MEMORY = 2;
const IMPORT_KIND_GLOBAL = 3;
const IMPORT_KIND_TAG = 4;

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array, private readonly limit = bytes.length) {}

  get done(): boolean {
    return this.pos >= this.limit;
  }

  byte(): number {
    if (this.pos >= this.limit) throw invalid('unexpected end of module');
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw invalid('LEB128 too long');
    }
    return result;
  }

  i32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (shift < 32 && b & 0x40) result |= ~0 << shift;
    return result;
  }

  name(): string {
    const len = this.u32();
    return new TextDecoder().decode(this.take(len));
  }

  take(len: number): Uint8Array {
    if (this.pos + len > this.limit) throw invalid('section runs past its end');
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(len: number): void {
    this.take(len);
  }
}

function invalid(what: string): CwasiError {
  return new CwasiError('E_WASM_INVALID', `invalid wasm: ${what}`);
}

function readLimits(r: Reader): { min: number; max: number | undefined; shared: boolean } {
  const flags = r.byte();
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : undefined;
  return { min, max, shared: (flags & 0x02) !== 0 };
}

function skipConstExpr(r: Reader): void {
  // Skip until `end`; immediates of the few const opcodes are LEBs or fixed.
  for (;;) {
    const op = r.byte();
    if (op === OP_END) return;
    if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) r.u32();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xd0) r.byte();
    else throw invalid(`unsupported constant expression opcode 0x${op.toString(16)}`);
  }
}

/** Decode the parts of `bytes` (compiled as `compiled`) the engine needs. Throws E_WASM_INVALID. */
export function inspectModule(bytes: Uint8Array, compiled: WebAssembly.Module): ModuleInfo {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw invalid('missing \\0asm magic');
  }
  const r = new Reader(bytes);
  r.pos = 8;
  let memory: MemoryImport | undefined;
  const imports: ModuleInfo['imports'] = [];
  const region: StaticRegion = { start: Infinity, end: 0 };
  const segments: DataSegment[] = [];
  let dataSection: ModuleInfo['dataSection'];
  let startSection = false;
  while (!r.done) {
    const headerAt = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    if (start + size > bytes.length) throw invalid('section runs past the end of the module');
    const s = new Reader(bytes, start + size);
    s.pos = start;
    if (id === SECTION_IMPORT) {
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        const module = s.name();
        const name = s.name();
        const kind = s.byte();
        if (kind === IMPORT_KIND_FUNC) {
          s.u32();
          imports.push({ module, name, kind: 'function' });
        } else if (kind === IMPORT_KIND_TABLE) {
          s.byte();
          readLimits(s);
          imports.push({ module, name, kind: 'table' });
        } else if (kind === IMPORT_KIND_MEMORY) {
          const lim = readLimits(s);
          memory = { module, name, initialPages: lim.min, maximumPages: lim.max, shared: lim.shared };
          imports.push({ module, name, kind: 'memory' });
        } else if (kind === IMPORT_KIND_GLOBAL) {
          s.byte();
          s.byte();
          imports.push({ module, name, kind: 'global' });
        } else if (kind === IMPORT_KIND_TAG) {
          s.byte();
          s.u32();
          imports.push({ module, name, kind: 'tag' });
        } else {
          throw invalid(`unknown import kind ${kind}`);
        }
      }
    } else if (id === SECTION_START) {
      startSection = true;
    } else if (id === SECTION_DATA) {
      dataSection = { start: headerAt, end: start + size };
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        const flags = s.u32();
        if (flags === 1) {
          // passive segment: written only by memory.init, never at instantiation
          s.skip(s.u32());
          continue;
        }
        if (flags === 2) s.u32(); // explicit memory index
        if (flags !== 0 && flags !== 2) throw invalid(`unknown data segment flags ${flags}`);
        const op = s.byte();
        if (op !== OP_I32_CONST) {
          // A segment placed by a global (dynamic linking) cannot be checked.
          throw invalid('data segment offset is not a constant; static regions cannot be verified');
        }
        const offset = s.i32() >>> 0;
        if (s.byte() !== OP_END) skipConstExpr(s);
        const len = s.u32();
        segments.push({ offset, bytes: s.take(len) });
        if (len > 0) {
          region.start = Math.min(region.start, offset);
          region.end = Math.max(region.end, offset + len);
        }
      }
    }
    r.pos = start + size;
  }
  const exports = WebAssembly.Module.exports(compiled).map((e) => e.name);
  return { memory, staticRegion: region, segments, dataSection, exports, imports, startSection };
}
