// Orders for the json-as guest (test/fixtures/libs/json-as.ts): seeded
// random orders, their JSON text, and the guest's replies computed in
// JavaScript (the same module state: totals per customer, the last orders).
import { HISTORY_FLAG, pick, randInt } from './differential.js';

/** How many orders the guest keeps alive between calls. */
export const KEEP = 8;

export interface Item { sku: string; qty: number; price: number; tags: string[] }
export interface Order { id: number; customer: string; items: Item[]; note: string | null; paid: boolean }

// No characters outside the BMP: json-as 1.6.0 decodes a string field wrongly
// when one sits at some offsets ("abc😀" comes back as "abc\ufffd\ufffd\ufffd\ude00"),
// with plain asc alone: a bug of the library, not of what is tested here.
const CUSTOMERS = ['ann', 'bob', 'chloé', '中村', 'd"q"', 'e\\s', 'zoë'];
const PIECES = ['a', 'b', 'sku', '-', ' ', '"', '\\', '/', '\n', '\t', '\r', '\u0001', '\u001f', 'é', 'ß', '中', '\u2028', '{', '}', '[', ',', ':'];

function text(rnd: () => number, max: number): string {
  let s = '';
  for (let i = randInt(rnd, 0, max); i > 0; i--) s += pick(rnd, PIECES);
  return s;
}

export function order(rnd: () => number): Order {
  return {
    id: randInt(rnd, -1000, 1_000_000),
    customer: pick(rnd, CUSTOMERS),
    items: Array.from({ length: randInt(rnd, 0, 6) }, () => ({
      sku: text(rnd, 12),
      qty: randInt(rnd, 0, 20),
      // Cents, and now and then a whole number: both sides must print them alike.
      price: rnd() < 0.2 ? randInt(rnd, 0, 500) : randInt(rnd, 0, 99_999) / 100,
      tags: Array.from({ length: randInt(rnd, 0, 3) }, () => text(rnd, 6)),
    })),
    note: rnd() < 0.5 ? null : text(rnd, 40),
    paid: rnd() < 0.5,
  };
}

/**
 * The order as JSON text, compact or indented. Keys stay in declaration
 * order: json-as 1.6.0 misreads (fields left at their defaults) or traps
 * ("memory access out of bounds") on objects whose keys come in another
 * order, with plain asc alone, another bug of the library.
 */
export function orderText(rnd: () => number, o: Order): string {
  return JSON.stringify(o, null, rnd() < 0.3 ? 2 : undefined);
}

/** The guest's module state and reply, in JavaScript. */
export function reference(): (input: Uint8Array) => Uint8Array {
  const totals = new Map<string, number>();
  const counts = new Map<string, number>();
  const recent: Order[] = [];
  let calls = 0;
  return (input) => {
    const history = (input[0]! & HISTORY_FLAG) !== 0;
    const parsed = JSON.parse(new TextDecoder().decode(input.subarray(1))) as Order;
    // Re-serialised in the classes' field order.
    const o: Order = {
      id: parsed.id, customer: parsed.customer,
      items: parsed.items.map((i) => ({ sku: i.sku, qty: i.qty, price: i.price, tags: i.tags })),
      note: parsed.note, paid: parsed.paid,
    };
    let total = 0;
    for (const i of o.items) total += i.qty * i.price;
    calls++;
    totals.set(o.customer, (totals.get(o.customer) ?? 0) + total);
    counts.set(o.customer, (counts.get(o.customer) ?? 0) + 1);
    recent.push(o);
    if (recent.length > KEEP) recent.shift();
    const h = history ? {
      calls, customerOrders: counts.get(o.customer), customerTotal: totals.get(o.customer),
      recentIds: recent.map((r) => r.id), recentCustomers: recent.map((r) => r.customer),
    } : null;
    return new TextEncoder().encode(JSON.stringify({ order: o, total, history: h }));
  };
}


/** An order whose JSON text is at least `bytes` long (more items until it is). */
export function orderOfSize(rnd: () => number, bytes: number): Order {
  const o = order(rnd);
  while (JSON.stringify(o).length < bytes) {
    o.items.push({ sku: text(rnd, 12), qty: randInt(rnd, 0, 20), price: randInt(rnd, 0, 99_999) / 100, tags: [text(rnd, 6)] });
  }
  return o;
}
