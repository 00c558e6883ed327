// Batch pipelines from Node: engine.map over records and over files.
//   node examples/batch.mjs [DIR]
// With DIR, every file under it goes through the pipeline, each read straight
// into the first function's memory; without, 10 000 generated records do.
import { Engine } from 'cwasi';
import { listFiles } from 'cwasi/primitives';
import * as workloads from 'cwasi/workloads';

const engine = await Engine.create();
await engine.deployFile(new URL('./batch.json', import.meta.url).pathname);

const dir = process.argv[2];
// Any iterable or async iterable: it is read only as fast as results are taken.
const inputs = dir !== undefined
  ? await listFiles(dir)                                        // [{ key, file }]
  : (function* () {
      for (let i = 0; i < 10_000; i++) yield { key: `record-${i}`, bytes: workloads.produce(4096, i) };
    })();

let done = 0;
let failed = 0;
const started = performance.now();
for await (const r of engine.map('batch', inputs, { ordered: false, onError: 'continue', retries: 2 })) {
  if (r.error) {
    failed++;
    console.error(`${r.key}: ${r.error.code}: ${r.error.message}`);
    continue;
  }
  done++;
  const [{ hash, length }] = workloads.readChecksums(r.output);
  if (done <= 3) console.log(`${r.key}: cwasi-sum32 0x${hash.toString(16).padStart(8, '0')} over ${length} bytes`);
}
const s = (performance.now() - started) / 1000;
console.log(`${done} done, ${failed} failed in ${s.toFixed(2)} s (${(done / s).toFixed(0)} inputs/s)`);
console.log('file inputs:', engine.stats().fileInputs);
await engine.close();
