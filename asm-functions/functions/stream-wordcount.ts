// stream-wordcount: the wordcount function as a stream: words (runs of
// non-whitespace ASCII) counted chunk by chunk, a word cut by a chunk's end
// carried into the next. Output: the wordcount function's report for the
// same text.
import { Bytes, Reader, Writer, fail, serveStream } from "cwasi/sdk";
import { wordcountReport } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline const CHUNK: i32 = 64 * 1024;

const buf = Bytes.alloc(CHUNK);

// @ts-ignore: decorator
@inline function isSpace(c: u8): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0D);
}

class Counter {
  counts: Map<string, i32> = new Map<string, i32>();
  total: i32 = 0;
  /** Bytes of a word the last chunk ended inside of. */
  carry: Array<u8> = new Array<u8>();

  add(word: string): void {
    this.counts.set(word, this.counts.has(word) ? this.counts.get(word) + 1 : 1);
    this.total++;
  }

  /** A word's bytes [ptr, ptr + len) that end here, after what was carried. */
  finishWord(ptr: usize, len: i32): void {
    if (this.carry.length == 0) {
      this.add(String.UTF8.decodeUnsafe(ptr, <usize>len));
      return;
    }
    for (let i = 0; i < len; i++) this.carry.push(load<u8>(ptr + <usize>i));
    this.add(String.UTF8.decodeUnsafe(this.carry.dataStart, <usize>this.carry.length));
    this.carry.length = 0;
  }

  chunk(ptr: usize, n: i32): void {
    let i = 0;
    while (i < n) {
      while (i < n && isSpace(load<u8>(ptr + <usize>i))) {
        // A carried word ends at the first space of this chunk.
        if (this.carry.length > 0) this.finishWord(ptr, 0);
        i++;
      }
      let start = i;
      while (i < n && !isSpace(load<u8>(ptr + <usize>i))) i++;
      if (i == start) continue;
      if (i == n) {
        // The chunk ends inside a word: keep its bytes for the next one.
        for (let k = start; k < n; k++) this.carry.push(load<u8>(ptr + <usize>k));
      } else {
        this.finishWord(ptr + <usize>start, i - start);
      }
    }
  }

  report(): string {
    if (this.carry.length > 0) this.finishWord(0, 0);
    return wordcountReport(this.counts, this.total);
  }
}

function handle(input: Reader, output: Writer): void {
  let counter = new Counter();
  for (;;) {
    let n = input.read(buf);
    if (n == 0) break;
    if (n < 0) {
      fail(1, "input stream failed");
      return;
    }
    counter.chunk(buf.ptr, n);
  }
  output.writeString(counter.report());
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serveStream(table, count, handle);
}
