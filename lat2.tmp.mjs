import { Engine } from './dist/engine/index.js';
import { Piscina } from 'piscina';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
const origRun = Piscina.prototype.run;
let tRun = [];
Piscina.prototype.run = function (task, opts) {
  const t0 = performance.now();
  const p = origRun.call(this, task, opts);
  return p.then((r) => { tRun.push(performance.now() - t0); return r; });
};
for (let i = 0; i < 1000; i++) await engine.invoke('identity', input);
tRun = [];
const tot = [];
for (let i = 0; i < 2000; i++) { const t = performance.now(); await engine.invoke('identity', input, { timeoutMs: Infinity }); tot.push(performance.now() - t); }
const med = (a) => (a.sort((x,y)=>x-y)[a.length>>1]*1000).toFixed(1);
console.log('pool.run', med(tRun), 'total', med(tot));
await engine.close();
