// wordcount: counts words (runs of non-whitespace ASCII) in UTF-8 text.
// Output (UTF-8 text):
//   words <total>
//   distinct <distinct>
//   <word> <count>      up to 10 lines, most frequent first, ties by word
import { Bytes, Inputs, serve } from "cwasi/sdk";
import { wordcountReport } from "cwasi/sdk/workloads";
export * from "cwasi/sdk/abi";

// @ts-ignore: decorator
@inline function isSpace(c: u8): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0D);
}


function handle(inputs: Inputs): Bytes {
  let counts = new Map<string, i32>();
  let total = 0;
  for (let k = 0; k < inputs.count; k++) {
    let text = inputs.get(k);
    let i = 0;
    let n = text.length;
    while (i < n) {
      while (i < n && isSpace(text.get(i))) i++;
      let start = i;
      while (i < n && !isSpace(text.get(i))) i++;
      if (i > start) {
        let word = String.UTF8.decodeUnsafe(text.ptr + <usize>start, <usize>(i - start));
        counts.set(word, counts.has(word) ? counts.get(word) + 1 : 1);
        total++;
      }
    }
  }
  let out = wordcountReport(counts, total);
  return Bytes.fromString(out);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
