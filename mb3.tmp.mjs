import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
function bench(name, mk) {
  const N = 50000;
  for (let i = 0; i < 2000; i++) { port1.postMessage(mk()); receiveMessageOnPort(port2); }
  const t = performance.now();
  for (let i = 0; i < N; i++) { port1.postMessage(mk()); receiveMessageOnPort(port2); }
  console.log(name.padEnd(12), ((performance.now() - t) * 1000 / N).toFixed(2), 'us');
}
const input = new Uint8Array([1,2,3]);
bench('u8', () => input);
bench('task', () => ({ type: 'run', taskId: 5, invocationId: 7, group: { groupId: 'local/fn:identity', generation: 0, version: 1 }, steps: ['identity'], inputs: [{ kind: 'bytes', bytes: input }], output: { keep: false, bytes: true }, deadline: Date.now() + 60000, maxPayloadBytes: 1 << 30, forceRemote: [] }));
bench('array', () => ['run', 5, 7, 'local/fn:identity', 0, 1, ['identity'], input, 0, Date.now() + 60000, 1 << 30]);
bench('piscina-wrap', () => ({ task: input, taskId: 5, filename: 'file:///work/main/dist/engine/worker/worker.js', name: 'default', histogramEnabled: 1 }));
port1.close();
