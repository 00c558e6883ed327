// The benchmark registry used by `cwasi bench <name>`.

import type { BenchOptions, BenchReport } from './common.js';
import { overhead } from './overhead.js';

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
};

export type { BenchOptions, BenchReport } from './common.js';
