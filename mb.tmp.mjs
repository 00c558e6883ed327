import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
const mod = new WebAssembly.Module(readFileSync('dist/functions/identity.wasm'));
const mem = new WebAssembly.Memory({ initial: 32, maximum: 32768, shared: true });
const sab = new SharedArrayBuffer(256);
const { port1, port2 } = new MessageChannel();
function bench(name, msg) {
  const N = 20000;
  for (let i = 0; i < 1000; i++) { port1.postMessage(msg); receiveMessageOnPort(port2); }
  const t = performance.now();
  for (let i = 0; i < N; i++) { port1.postMessage(msg); receiveMessageOnPort(port2); }
  console.log(name.padEnd(12), ((performance.now() - t) * 1000 / N).toFixed(2), 'us');
}
bench('plain', { a: 1 });
bench('module', { mod });
bench('memory', { mem });
bench('sab', { sab });
bench('u8', { b: new Uint8Array(3) });
bench('all', { mod, mem, sab, b: new Uint8Array(3) });
port1.close();
