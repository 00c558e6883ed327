import { Piscina } from 'piscina';
import { writeFileSync, readFileSync } from 'node:fs';
writeFileSync('/tmp/rawworker.mjs', 'export default (x) => ({ ok: true, n: x.b ? x.b.length : 0 });');
const pool = new Piscina({ filename: '/tmp/rawworker.mjs', minThreads: 2, maxThreads: 2 });
const mod = new WebAssembly.Module(readFileSync('dist/functions/identity.wasm'));
const mem = new WebAssembly.Memory({ initial: 32, maximum: 32768, shared: true });
async function conc(name, mk) {
  for (let i = 0; i < 500; i++) await pool.run(mk());
  const t = performance.now();
  let ps = [];
  for (let i = 0; i < 20000; i++) { ps.push(pool.run(mk())); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
  await Promise.all(ps);
  console.log(name.padEnd(10), 'conc64 ops/s', (20000/((performance.now()-t)/1000)).toFixed(0));
}
await conc('plain', () => ({ b: new Uint8Array(3) }));
await conc('mem', () => ({ b: new Uint8Array(3), mem }));
await conc('mod', () => ({ b: new Uint8Array(3), mod }));
await conc('sab', () => ({ b: new Uint8Array(3), s: new SharedArrayBuffer(256) }));
await conc('all', () => ({ b: new Uint8Array(3), mem, mod, s: new SharedArrayBuffer(256) }));
await pool.destroy();
