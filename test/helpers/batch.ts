// The batch tests' pipeline: producer → transform (embedded, one memory) →
// checksum (untrusted: local), and the JS mirror of what it returns.
import type { WorkflowDocument } from '../../engine/index.js';
import * as workloads from '../../engine/workloads.js';

export const PIPELINE: WorkflowDocument = {
  name: 'batch-pipeline',
  functions: {
    producer: { module: 'producer', trusted: true, domain: 'batch' },
    transform: { module: 'transform', trusted: true, domain: 'batch' },
    checksum: { module: 'checksum' },
  },
  edges: [{ from: 'producer', to: 'transform' }, { from: 'transform', to: 'checksum' }],
};

/** The producer spec of input `i` of a seeded run, with a length in [16, 16 + spread). */
export function specFor(i: number, rand: () => number, spread = 4096): { spec: Uint8Array; length: number; seed: number } {
  const length = 16 + Math.floor(rand() * spread);
  const seed = (i * 2654435761) >>> 0;
  return { spec: workloads.producerSpec(length, seed), length, seed };
}

/** What the pipeline returns for a producer spec: the checksum record of the inverted bytes. */
export function expectedFor(length: number, seed: number): Array<{ hash: number; length: number }> {
  return [{ hash: workloads.checksum(workloads.transform(workloads.produce(length, seed))), length }];
}
