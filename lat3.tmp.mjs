import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
for (let i = 0; i < 1000; i++) await engine.invoke('identity', input);
const tot = [];
for (let i = 0; i < 3000; i++) { const r = await engine.invokeWithReport('identity', input); const t = r.steps.find(s=>s.fn==='__total'); tot.push(t.done - t.inputReady); }
const med = (a) => (a.sort((x,y)=>x-y)[a.length>>1]*1000).toFixed(1);
console.log('seq worker total us', med(tot));
const tot2 = [];
let ps = [];
for (let i = 0; i < 20000; i++) { ps.push(engine.invokeWithReport('identity', input).then(r => { const t = r.steps.find(s=>s.fn==='__total'); tot2.push(t.done - t.inputReady); })); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
await Promise.all(ps);
console.log('conc worker total us', med(tot2), 'p90', (tot2.sort((x,y)=>x-y)[Math.floor(tot2.length*0.9)]*1000).toFixed(1));
await engine.close();
