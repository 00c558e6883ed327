import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
for (let i = 0; i < 2000; i++) await engine.invoke('identity', input);
const t = performance.now();
let ps = [];
for (let i = 0; i < 40000; i++) { ps.push(engine.invoke('identity', input)); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
await Promise.all(ps);
console.log('conc64 ops/s', (40000/((performance.now()-t)/1000)).toFixed(0));
await engine.close();
