import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
for (let i = 0; i < 1000; i++) await engine.invoke('identity', input);
const rows = [];
for (let i = 0; i < 2000; i++) {
  const r = await engine.invokeWithReport('identity', input, { timeoutMs: Infinity });
  const s = r.steps[0];
  rows.push([s.inputReady - r.startedAt, s.done - s.inputReady, r.finishedAt - s.done, r.latencyMs]);
}
const med = (k) => rows.map(r => r[k]).sort((a,b)=>a-b)[rows.length>>1].toFixed(3);
console.log('to-inputReady', med(0), 'run', med(1), 'back', med(2), 'total', med(3));
await engine.close();
