// A module's static data is written once per memory, not once per instance.
//
// An asc module places its static data (string literals, `memory.data`
// buffers, StaticArray literals) with active data segments, which the
// WebAssembly engine re-applies on every instantiation. In a memory shared by
// several threads, each worker instantiates the module again, so a second
// instantiation would reset whatever an instance running elsewhere had
// written there (a lookup table filled lazily, a scratch buffer): wrong output
// reported as success. Before compiling, the engine turns every active segment
// into a passive one (kept, never applied) and writes the segments itself
// when the module joins a memory, once.
//
// The data section's encoding (WebAssembly core spec, binary format):
//
//  ┌──────────────┬─────────────────────────────────────────────────────┐
//  │ field        │ bytes                                               │
//  ├──────────────┼─────────────────────────────────────────────────────┤
//  │ section id   │ 0x0b                                                │
//  │ size         │ u32 LEB128: bytes of everything below               │
//  │ count        │ u32 LEB128                                          │
//  │ segment ×n   │ 0x00 expr bytes  (active, memory 0)                 │
//  │              │ 0x01 bytes       (passive: what this rewrite emits) │
//  │              │ 0x02 memidx expr bytes (active, explicit memory)    │
//  │ bytes        │ u32 LEB128 length, then the data                    │
//  └──────────────┴─────────────────────────────────────────────────────┘

import type { DataSegment, ModuleInfo } from './inspect.js';

const SECTION_DATA = 0x0b;
const SEGMENT_PASSIVE = 0x01;

/** Unsigned LEB128, as the binary format encodes counts and lengths. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * `bytes` with every data segment passive (same count and contents, so data
 * indices and a data-count section stay valid). `bytes` itself when the
 * module has no active segment.
 */
export function withPassiveData(bytes: Uint8Array, info: Pick<ModuleInfo, 'segments' | 'dataSection'>): Uint8Array {
  const section = info.dataSection;
  if (section === undefined || info.segments.length === 0) return bytes;
  // Re-read the section's segments in order: passive ones are kept as they are.
  const all = dataSegmentsInOrder(bytes, section, info.segments);
  const body = leb(all.length);
  const parts: Uint8Array[] = [];
  for (const seg of all) parts.push(new Uint8Array([SEGMENT_PASSIVE, ...leb(seg.length)]), seg);
  const payloadLen = body.length + parts.reduce((n, p) => n + p.length, 0);
  const head = [SECTION_DATA, ...leb(payloadLen)];
  const out = new Uint8Array(section.start + head.length + payloadLen + (bytes.length - section.end));
  out.set(bytes.subarray(0, section.start), 0);
  let at = section.start;
  out.set(head, at);
  at += head.length;
  out.set(body, at);
  at += body.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.set(bytes.subarray(section.end), at);
  return out;
}

/** Every segment's bytes in section order: the active ones from `active`, passive ones read here. */
function dataSegmentsInOrder(bytes: Uint8Array, section: { start: number; end: number }, active: DataSegment[]): Uint8Array[] {
  let pos = section.start + 1;
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  u32(); // section size (inspectModule checked the bounds)
  const count = u32();
  const out: Uint8Array[] = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const flags = u32();
    if (flags === SEGMENT_PASSIVE) {
      const len = u32();
      out.push(bytes.subarray(pos, pos + len));
      pos += len;
      continue;
    }
    // An active segment: inspectModule decoded it; continue after its bytes.
    const seg = active[next++]!;
    out.push(seg.bytes);
    pos = seg.bytes.byteOffset - bytes.byteOffset + seg.bytes.length;
  }
  return out;
}

/** Write a module's static data into `memory` (the engine's memory; bounds checked at admission). */
export function writeStatics(memory: WebAssembly.Memory, segments: readonly DataSegment[]): void {
  const view = new Uint8Array(memory.buffer);
  for (const s of segments) {
    if (s.offset + s.bytes.length > view.length) throw new RangeError(`static data [${s.offset}, ${s.offset + s.bytes.length}) outside a memory of ${view.length} bytes`);
    view.set(s.bytes, s.offset);
  }
}
