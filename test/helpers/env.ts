// Shared test settings: service URLs, seeded randomness, small helpers.

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Seed of the property tests; override with CWASI_SEED to replay a failure. */
export const SEED = Number(process.env.CWASI_SEED ?? 20261126);

/** A small deterministic PRNG (mulberry32) for tests that need random numbers. */
export { prng } from '../../bench/common.js';

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export const MiB = 1024 * 1024;
