import { Engine, workloads } from './dist/engine/index.js';
const engine = await Engine.create({ threads: { min: 2, max: 4 }, timeoutMs: 5000 });
await engine.deploy([
  { name: 'scatter', module: 'scatter', trusted: true, domain: 'g' },
  { name: 'checksum', module: 'checksum', trusted: true, domain: 'g' },
  { name: 'cs-untrusted', module: 'checksum' },
  { name: 'trap', module: 'trap' }, { name: 'spin', module: 'spin' }, { name: 'hog', module: 'hog', memoryMaxBytes: 64 << 20 },
]);
const ref = workloads.checksum(workloads.produce(1 << 20, 5));
for (const [target, mode] of [['checksum', undefined], ['checksum', 'local'], ['checksum', 'copy'], ['cs-untrusted', undefined], ['checksum', 'remote-kv']]) {
  const t = performance.now();
  try {
    const out = await engine.invoke('scatter', workloads.scatterSpec(1 << 20, 5, 4, target), mode ? { guestCallMode: mode } : {});
    const recs = workloads.readChecksums(out);
    console.log('scatter', target, mode, recs.length, recs.every(r => r.hash === ref), (performance.now()-t).toFixed(1), 'ms');
  } catch (e) { console.log('scatter', target, mode, 'ERR', e.code, e.message); }
}
for (const b of [1, 2, 3]) {
  try { await engine.invoke('trap', new Uint8Array([b])); console.log('no error?'); } catch (e) { console.log('trap', b, e.code, e.message); }
}
console.log('trap ok after', await engine.invoke('trap', new Uint8Array([9])));
const t0 = performance.now();
try { await engine.invoke('spin', new Uint8Array([1]), { timeoutMs: 300 }); } catch (e) { console.log('spin', e.code, e.message, (performance.now()-t0).toFixed(0), 'ms'); }
const ac = new AbortController(); setTimeout(() => ac.abort(new Error('user gave up')), 200);
try { await engine.invoke('spin', new Uint8Array([1]), { signal: ac.signal }); } catch (e) { console.log('spin abort', e.code, e.message); }
console.log('spin ok after', await engine.invoke('spin', new Uint8Array([0, 7])));
try { await engine.invoke('hog', new Uint8Array([100,0,0,0])); } catch (e) { console.log('hog', e.code, e.message); }
console.log('hog ok', await engine.invoke('hog', new Uint8Array([4,0,0,0])));
try { await engine.invoke('nope', new Uint8Array(1)); } catch (e) { console.log('unknown', e.code, e.message); }
console.log(JSON.stringify(engine.stats().memory.map(m=>({id:m.id, gen: m.generation, inUse:m.bytesInUse, cached: m.cachedBytes, arenas:m.liveArenas}))));
console.log(JSON.stringify(engine.stats().invocations));
await engine.close();
try { await engine.invoke('trap', new Uint8Array(1)); } catch (e) { console.log('closed', e.code); }
