// The plain-asc reference host lives with the benchmarks (bench/plain-asc.ts),
// which use it too; the tests import it from here.
export * from '../../bench/plain-asc.js';
