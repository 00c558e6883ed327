// The benchmark registry used by `cwasi bench <name>`.

import type { BenchOptions, BenchReport } from './common.js';
import { batch } from './batch.js';
import { embedding } from './embedding.js';
import { localBuffer } from './local-buffer.js';
import { networked } from './networked.js';
import { overhead } from './overhead.js';
import { paper } from './paper.js';
import { stackCheck } from './stack-check.js';

export interface BenchDefinition {
  description: string;
  defaultSizes?: string;
  run(opts: BenchOptions): Promise<BenchReport>;
}

export const BENCHES: Record<string, BenchDefinition> = {
  overhead: {
    description: 'a trivial function through the engine vs a trivial raw Piscina task (goal: >= 50% of raw throughput)',
    run: overhead,
  },
  'local-buffer': {
    description: 'a payload between functions in two workers: local (descriptor), local-stream, copy, beside one memcpy (goal: 100 MiB at >= 80% of memcpy, 2 MiB p50 < 1 ms)',
    defaultSizes: '2MiB,16MiB,100MiB',
    run: localBuffer,
  },
  embedding: {
    description: 'handoff between trusted functions sharing one memory (zero copy), beside local and copy (goal: p50 < 50 µs at 2 MiB and 100 MiB)',
    defaultSizes: '2MiB,100MiB',
    run: embedding,
  },
  networked: {
    description: 'payloads between functions on two node processes over the Networked Buffer, beside raw TCP and the Redis baseline (goal: >= 80% of raw-tcp at 100 MiB, >= 3x remote-kv at 2 MiB)',
    defaultSizes: '2MiB,100MiB',
    run: networked,
  },
  batch: {
    description: 'N inputs through producer → transform (embedded) → checksum (local) with engine.map, beside a Piscina pool running the same wasm kernels stage by stage (postMessage, transferList); threads 1 vs N; peak RSS with N vs 4N inputs (goals: >= 5x Piscina at 2 MiB, >= 1.7x from 1 to 2 threads, RSS <= 1.2x)',
    defaultSizes: '64KiB,2MiB',
    run: batch,
  },
  'stack-check': {
    description: 'cost of the per-instance shadow-stack limit check on the bundled kernels, against the constant check asc emits (goal: >= 0.95 of its throughput)',
    defaultSizes: '256KiB',
    run: stackCheck,
  },
  paper: {
    description: "the CWASI paper's experiments (sequential, fan-out, fan-in, fan-out by size, cross-node) for every mode, beside the published numbers; --out DIR writes SVG plots and an HTML page",
    run: paper,
  },
};

export type { BenchOptions, BenchReport } from './common.js';
