// Records from a byte stream (`cwasi run --batch -`), read as the batch pulls
// them: the stream is paused while the window is full, so a large stdin is
// never buffered whole.
//
// Framings:
//   lines   one record per line; the '\n' (and a '\r' before it) is not part
//           of the record; a last line without '\n' is a record if not empty.
//   length  each record is a u32 little-endian byte length, then that many bytes:
//             offset 0  u32 LE  length L (at most the payload limit)
//             offset 4  L bytes record
//           A stream that ends inside a header or a record fails with E_INPUT.

import type { Readable } from 'node:stream';
import { CwasiError } from '../errors.js';

export type Framing = 'lines' | 'length';

export const FRAMINGS: readonly Framing[] = ['lines', 'length'];

/** Bytes of the length prefix of the `length` framing. */
const LENGTH_PREFIX_BYTES = 4;

/** Width of a record's key: its index, zero-padded so that result files sort in input order. */
const KEY_DIGITS = 8;

export function recordKey(index: number): string {
  return String(index).padStart(KEY_DIGITS, '0');
}

/** `{ key, bytes }` per record of `stream` in `framing`; records larger than `maxBytes` fail with E_INPUT. */
export async function* readRecords(stream: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, framing: Framing, maxBytes: number): AsyncGenerator<{ key: string; bytes: Uint8Array }> {
  let pending: Buffer = Buffer.alloc(0);
  // Chunks that cannot complete a record yet are kept apart and joined once,
  // so a large record arriving in small chunks is copied once, not once per chunk.
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let need = 0;
  let index = 0;
  const emit = (bytes: Uint8Array) => ({ key: recordKey(index++), bytes });
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const incomplete = framing === 'lines' ? c.indexOf(0x0a) < 0 : pending.length + partsBytes + c.length < need;
    parts.push(c);
    partsBytes += c.length;
    if (pending.length + partsBytes > maxBytes + LENGTH_PREFIX_BYTES && incomplete) {
      throw new CwasiError('E_INPUT', `record ${index}: longer than the payload limit of ${maxBytes} bytes`);
    }
    if (incomplete) continue;
    pending = Buffer.concat([pending, ...parts]);
    parts = [];
    partsBytes = 0;
    if (framing === 'lines') {
      let start = 0;
      for (;;) {
        const nl = pending.indexOf(0x0a, start);
        if (nl < 0) break;
        const end = nl > start && pending[nl - 1] === 0x0d ? nl - 1 : nl;
        if (end - start > maxBytes) throw new CwasiError('E_INPUT', `record ${index}: a line longer than the payload limit of ${maxBytes} bytes`);
        // A copy: the chunk it came from is released once its records are out.
        yield emit(new Uint8Array(pending.subarray(start, end)));
        start = nl + 1;
      }
      pending = pending.subarray(start);
    } else {
      let at = 0;
      need = 0;
      while (pending.length - at >= LENGTH_PREFIX_BYTES) {
        const len = pending.readUInt32LE(at);
        if (len > maxBytes) throw new CwasiError('E_INPUT', `record ${index}: length ${len} exceeds the payload limit of ${maxBytes} bytes`);
        if (pending.length - at - LENGTH_PREFIX_BYTES < len) {
          need = LENGTH_PREFIX_BYTES + len;
          break;
        }
        yield emit(new Uint8Array(pending.subarray(at + LENGTH_PREFIX_BYTES, at + LENGTH_PREFIX_BYTES + len)));
        at += LENGTH_PREFIX_BYTES + len;
      }
      pending = pending.subarray(at);
    }
  }
  if (parts.length > 0) pending = Buffer.concat([pending, ...parts]);
  if (framing === 'lines') {
    const end = pending.length > 0 && pending[pending.length - 1] === 0x0d ? pending.length - 1 : pending.length;
    if (end > 0) yield emit(new Uint8Array(pending.subarray(0, end)));
  } else if (pending.length > 0) {
    throw new CwasiError('E_INPUT', `record ${index}: the stream ended inside a record (${pending.length} bytes left over)`);
  }
}
