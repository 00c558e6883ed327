// json-roundtrip (the kernel of `cwasi bench alloc`): parses a JSON document
// into a tree of objects (one object per value, strings decoded, keys kept in
// order) and serialises the tree again, compact. Written the way ordinary
// AssemblyScript is: every value, string and array is a managed object, and
// the tree is garbage once the output is written, so the allocator and the
// collector do most of the work. The same source runs under cwasi and under
// plain asc with its own runtime.
//
// Input: a JSON document (UTF-8). Output: the same document, compact, with
// numbers printed by AssemblyScript (integers without a fraction). Malformed
// input fails with code 1.
import { Bytes, Inputs, fail, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

const KIND_NULL: u8 = 0;
const KIND_BOOL: u8 = 1;
const KIND_NUM: u8 = 2;
const KIND_STR: u8 = 3;
const KIND_ARR: u8 = 4;
const KIND_OBJ: u8 = 5;

class Value {
  kind: u8 = KIND_NULL;
  flag: bool = false;
  num: f64 = 0;
  str: string = "";
  items: Value[] | null = null;
  keys: string[] | null = null;
}

/** A growable byte buffer (an ArrayBuffer replaced by a larger one as it fills). */
class Out {
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;

  reserve(n: i32): void {
    if (this.len + n <= this.buf.byteLength) return;
    let cap = this.buf.byteLength << 1;
    while (cap < this.len + n) cap <<= 1;
    let next = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>this.len);
    this.buf = next;
  }

  byte(b: u8): void {
    this.reserve(1);
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, b);
    this.len++;
  }

  text(s: string): void {
    let utf8 = String.UTF8.encode(s);
    let n = utf8.byteLength;
    this.reserve(n);
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, changetype<usize>(utf8), <usize>n);
    this.len += n;
  }
}

class Parser {
  pos: i32 = 0;
  failed: bool = false;
  constructor(public data: Bytes) {}

  at(): u8 {
    return this.pos < this.data.length ? this.data.get(this.pos) : 0;
  }

  skip(): void {
    while (this.pos < this.data.length) {
      let c = this.data.get(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
      this.pos++;
    }
  }

  expect(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.at() != <u8>word.charCodeAt(i)) {
        this.failed = true;
        return;
      }
      this.pos++;
    }
  }

  value(depth: i32): Value {
    let v = new Value();
    if (depth > 200) {
      this.failed = true;
      return v;
    }
    this.skip();
    let c = this.at();
    if (c == 0x7b) {
      v.kind = KIND_OBJ;
      let keys = new Array<string>();
      let items = new Array<Value>();
      this.pos++;
      this.skip();
      if (this.at() == 0x7d) this.pos++;
      else {
        while (!this.failed) {
          this.skip();
          if (this.at() != 0x22) { this.failed = true; break; }
          keys.push(this.string());
          this.skip();
          this.expect(":");
          items.push(this.value(depth + 1));
          this.skip();
          let d = this.at();
          this.pos++;
          if (d == 0x7d) break;
          if (d != 0x2c) this.failed = true;
        }
      }
      v.keys = keys;
      v.items = items;
    } else if (c == 0x5b) {
      v.kind = KIND_ARR;
      let items = new Array<Value>();
      this.pos++;
      this.skip();
      if (this.at() == 0x5d) this.pos++;
      else {
        while (!this.failed) {
          items.push(this.value(depth + 1));
          this.skip();
          let d = this.at();
          this.pos++;
          if (d == 0x5d) break;
          if (d != 0x2c) this.failed = true;
        }
      }
      v.items = items;
    } else if (c == 0x22) {
      v.kind = KIND_STR;
      v.str = this.string();
    } else if (c == 0x74) {
      v.kind = KIND_BOOL;
      v.flag = true;
      this.expect("true");
    } else if (c == 0x66) {
      v.kind = KIND_BOOL;
      this.expect("false");
    } else if (c == 0x6e) {
      this.expect("null");
    } else {
      v.kind = KIND_NUM;
      let start = this.pos;
      while (this.pos < this.data.length) {
        let d = this.at();
        if ((d >= 0x30 && d <= 0x39) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x65 || d == 0x45) this.pos++;
        else break;
      }
      if (this.pos == start) this.failed = true;
      else v.num = parseFloat(this.data.slice(start, this.pos).toString());
    }
    return v;
  }

  /** A string literal at pos (on its opening quote), decoded. */
  string(): string {
    this.pos++;
    let start = this.pos;
    let plain = true;
    while (this.pos < this.data.length) {
      let c = this.at();
      if (c == 0x22) break;
      if (c == 0x5c) {
        plain = false;
        this.pos++;
      }
      this.pos++;
    }
    if (this.pos >= this.data.length) {
      this.failed = true;
      return "";
    }
    let end = this.pos;
    this.pos++;
    if (plain) return this.data.slice(start, end).toString();
    let parts = new Array<string>();
    let i = start;
    while (i < end) {
      let c = this.data.get(i);
      if (c != 0x5c) {
        let j = i;
        while (j < end && this.data.get(j) != 0x5c) j++;
        parts.push(this.data.slice(i, j).toString());
        i = j;
        continue;
      }
      let e = this.data.get(i + 1);
      i += 2;
      if (e == 0x6e) parts.push("\n");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x75) {
        let code: i32 = 0;
        for (let k = 0; k < 4; k++) {
          let h = <i32>this.data.get(i + k);
          code = (code << 4) | (h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x57);
        }
        i += 4;
        parts.push(String.fromCharCode(code));
      } else parts.push(String.fromCharCode(e));
    }
    return parts.join("");
  }
}

function writeString(out: Out, s: string): void {
  out.byte(0x22);
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) {
      out.text(s.substring(start, i));
      out.byte(0x5c);
      if (c == 0x22 || c == 0x5c) out.byte(<u8>c);
      else if (c == 0x0a) out.byte(0x6e);
      else if (c == 0x09) out.byte(0x74);
      else if (c == 0x0d) out.byte(0x72);
      else {
        out.text("u00");
        out.byte(<u8>(0x30 + (c >> 4)));
        out.text((c & 15).toString(16));
      }
      start = i + 1;
    }
  }
  out.text(s.substring(start));
  out.byte(0x22);
}

function write(out: Out, v: Value): void {
  if (v.kind == KIND_NULL) out.text("null");
  else if (v.kind == KIND_BOOL) out.text(v.flag ? "true" : "false");
  else if (v.kind == KIND_NUM) {
    let n = v.num;
    if (n == Math.floor(n) && Math.abs(n) < 9007199254740992) out.text((<i64>n).toString());
    else out.text(n.toString());
  } else if (v.kind == KIND_STR) writeString(out, v.str);
  else if (v.kind == KIND_ARR) {
    out.byte(0x5b);
    let items = v.items!;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out.byte(0x2c);
      write(out, items[i]);
    }
    out.byte(0x5d);
  } else {
    out.byte(0x7b);
    let keys = v.keys!;
    let items = v.items!;
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) out.byte(0x2c);
      writeString(out, keys[i]);
      out.byte(0x3a);
      write(out, items[i]);
    }
    out.byte(0x7d);
  }
}

function handle(inputs: Inputs): Bytes {
  let p = new Parser(inputs.first());
  let tree = p.value(0);
  p.skip();
  if (p.failed || p.pos != p.data.length) return fail(1, "malformed JSON");
  let out = new Out();
  write(out, tree);
  let result = Bytes.alloc(out.len);
  memory.copy(result.ptr, changetype<usize>(out.buf), <usize>out.len);
  return result;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
