import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
const input = new Uint8Array([1,2,3]);
for (const opts of [{}, { timeoutMs: Infinity }, {}, { timeoutMs: Infinity }]) {
for (let i = 0; i < 2000; i++) await engine.invoke('identity', input, opts);
const t = performance.now();
let ps = [];
for (let i = 0; i < 20000; i++) { ps.push(engine.invoke('identity', input, opts)); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
await Promise.all(ps);
console.log(JSON.stringify(opts), 'conc64 ops/s', (20000/((performance.now()-t)/1000)).toFixed(0));
}
console.log(JSON.stringify(engine.stats().pool));
await engine.close();
