import { Engine } from './dist/engine/index.js';
const input = new Uint8Array([1,2,3]);
const engine = await Engine.create({ threads: 2 });
await engine.deploy([{ name: 'identity', module: 'identity' }]);
for (let i = 0; i < 2000; i++) await engine.invoke('identity', input);
let ps = [];
for (let i = 0; i < 40000; i++) { ps.push(engine.invoke('identity', input)); if (ps.length >= 64) { await Promise.all(ps); ps = []; } }
await Promise.all(ps);
await engine.close();
