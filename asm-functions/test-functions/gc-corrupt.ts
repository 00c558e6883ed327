// gc-corrupt (test fixture): damages its own heap or collector metadata the
// way a buggy or hostile guest could, then makes the runtime use it. First
// input byte:
//   0  no damage: keeps a list of 2 000 small objects in a global, returns
//      u32 LE list length then u32 LE sum (the list grows by 2 000 per call)
//   1  a live object's block size (block.ts INFO) set past its region, then a collection
//   2  a live object's class id (block.ts RT_ID) set to an unknown one, then a collection
//   3  a free block's next link (block.ts NEXT) pointed at static data, then allocations
//   4  a live object's block size set to 0 (a walk would stop early), then a collection
// Offsets: object payload = block + 20; INFO at block + 0, RT_ID at + 12,
// a free block's NEXT at + 8 (asm-functions/rt/block.ts).
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

class Cell {
  value: u32 = 0;
  next: Cell | null = null;
}

let list: Cell | null = null;
let length: u32 = 0;
const STATIC_TARGET = memory.data(64);

function grow(n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    let c = new Cell();
    c.value = length;
    c.next = list;
    list = c;
    length++;
  }
}

function handle(inputs: Inputs): Bytes {
  let input = inputs.first();
  let op = input.length > 0 ? input.get(0) : 0;
  grow(2000);
  let victim = changetype<usize>(list);
  let block = victim - 20;
  if (op == 1) {
    store<u32>(block, (load<u32>(block) & 15) | 0x7FFF_FFF0);
    __collect();
  } else if (op == 2) {
    store<u32>(block, 0xFFFF, 12);
    __collect();
  } else if (op == 3) {
    let raw = heap.alloc(64);
    let spare = heap.alloc(64); // keeps raw's block from merging into the rest
    heap.free(raw);
    store<u32>(raw - 4, <u32>STATIC_TARGET, 8);
    heap.alloc(64);
    heap.alloc(64);
    heap.free(spare);
  } else if (op == 4) {
    store<u32>(block, load<u32>(block) & 15);
    __collect();
  }
  let sum: u32 = 0;
  let c = list;
  while (c !== null) {
    sum += c.value;
    c = c.next;
  }
  let out = Bytes.alloc(8);
  out.setU32(0, length);
  out.setU32(4, sum);
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
