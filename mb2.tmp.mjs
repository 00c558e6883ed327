import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
const mod = new WebAssembly.Module(readFileSync('dist/functions/identity.wasm'));
const mem = new WebAssembly.Memory({ initial: 32, maximum: 32768, shared: true });
const w = new Worker(`
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  const t = performance.now();
  const { receiveMessageOnPort } = require('node:worker_threads');
  let n = 0; let x;
  const t0 = performance.now();
  while ((x = receiveMessageOnPort(m.port)) !== undefined) n++;
  parentPort.postMessage({ n, us: (performance.now() - t0) * 1000 / n });
});
`, { eval: true });
const { MessageChannel } = await import('node:worker_threads');
async function bench(name, msg) {
  const { port1, port2 } = new MessageChannel();
  const N = 5000;
  const t = performance.now();
  for (let i = 0; i < N; i++) port1.postMessage(msg);
  const sendUs = (performance.now() - t) * 1000 / N;
  w.postMessage({ port: port2 }, [port2]);
  const r = await new Promise((res) => w.once('message', res));
  console.log(name.padEnd(8), 'send', sendUs.toFixed(2), 'us, recv', r.us.toFixed(2), 'us', r.n);
  port1.close();
}
await bench('plain', { a: 1, b: new Uint8Array(3) });
await bench('mem', { a: 1, mem });
await bench('mod', { a: 1, mod });
await bench('sab', { a: 1, s: new SharedArrayBuffer(256) });
await bench('mem+mod', { a: 1, mem, mod });
await w.terminate();
