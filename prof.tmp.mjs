import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
for (let i = 0; i < 500; i++) await engine.invoke('identity', input);
let t = performance.now();
for (let i = 0; i < 3000; i++) await engine.invoke('identity', input);
console.log('seq us/op', ((performance.now()-t)*1000/3000).toFixed(1));
t = performance.now();
let ps = [];
for (let i = 0; i < 20000; i++) { ps.push(engine.invoke('identity', input)); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
await Promise.all(ps);
console.log('conc64 ops/s', (20000/((performance.now()-t)/1000)).toFixed(0));
t = performance.now();
for (let i = 0; i < 3000; i++) await engine.invoke('identity', input, { timeoutMs: Infinity });
console.log('seq no-timeout us/op', ((performance.now()-t)*1000/3000).toFixed(1));
await engine.close();
