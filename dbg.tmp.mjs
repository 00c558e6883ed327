import { Engine, workloads } from './dist/engine/index.js';
const engine = await Engine.create({ threads: 2 });
await engine.deploy({ name: 'e', functions: { p: { module: 'producer', trusted: true, domain: 'x' }, c: { module: 'checksum', trusted: true, domain: 'x' } }, edges: [{ from: 'p', to: 'c' }] });
for (const size of [2 << 20, 100 << 20]) {
  for (let i = 0; i < 6; i++) {
    const r = await engine.invokeWithReport('e', workloads.producerSpec(size, 1));
    const p = r.steps.find(s => s.fn === 'p'), c = r.steps.find(s => s.fn === 'c'), d = r.steps.find(s => s.fn === '__dbg');
    console.log(size >> 20, 'MiB handoff', ((c.inputReady - p.done) * 1000).toFixed(1), 'us; instanceFor', (d.inputReady*1000).toFixed(1), 'newContext', (d.done*1000).toFixed(1));
  }
}
await engine.close();
