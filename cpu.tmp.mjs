import { Engine } from './dist/engine/index.js';
import { Piscina } from 'piscina';
import { writeFileSync } from 'node:fs';
const input = new Uint8Array([1,2,3]);
async function measure(name, fn, N = 20000) {
  for (let i = 0; i < 2000; i++) await fn();
  const c0 = process.cpuUsage(); const t = performance.now();
  let ps = [];
  for (let i = 0; i < N; i++) { ps.push(fn()); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
  await Promise.all(ps);
  const c = process.cpuUsage(c0); const wall = performance.now() - t;
  console.log(name.padEnd(8), 'ops/s', (N/(wall/1000)).toFixed(0), 'cpu us/op', ((c.user + c.system)/N).toFixed(1), 'user', (c.user/N).toFixed(1), 'sys', (c.system/N).toFixed(1));
}
writeFileSync('/tmp/rawworker.mjs', 'export default (x) => x;');
const pool = new Piscina({ filename: '/tmp/rawworker.mjs', minThreads: 2, maxThreads: 2 });
const ac = new AbortController();
await measure('raw', () => pool.run(input, { signal: ac.signal }));
await pool.destroy();
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
await measure('engine', () => engine.invoke('identity', input));
await engine.close();
