import { Piscina } from 'piscina';
import { writeFileSync } from 'node:fs';
writeFileSync('/tmp/rawworker.mjs', 'export default (x) => x;');
const pool = new Piscina({ filename: '/tmp/rawworker.mjs', minThreads: 2, maxThreads: 2 });
async function conc(name, mkOpts) {
  for (let i = 0; i < 2000; i++) await pool.run(new Uint8Array(3), mkOpts());
  for (let rep = 0; rep < 2; rep++) {
  const t = performance.now();
  let ps = [];
  for (let i = 0; i < 20000; i++) { ps.push(pool.run(new Uint8Array(3), mkOpts())); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
  await Promise.all(ps);
  console.log(name.padEnd(10), 'conc64 ops/s', (20000/((performance.now()-t)/1000)).toFixed(0));
  }
}
await conc('nosignal', () => undefined);
const ac = new AbortController();
await conc('signal', () => ({ signal: ac.signal }));
await conc('timeout', () => ({ signal: AbortSignal.timeout(60000) }));
await pool.destroy();
