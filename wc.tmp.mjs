import { Engine } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 1 });
await engine.deploy([{ name: 'wordcount', module: 'wordcount' }]);
for (const t of ['  lead and trail  ', '  lead and trail  ', 'lead and trail', 'a b c', 'aa bb cc', 'and trail', 'lead and']) {
  console.log(JSON.stringify(t), JSON.stringify(new TextDecoder().decode(await engine.invoke('wordcount', new TextEncoder().encode(t)))));
}
await engine.close();
