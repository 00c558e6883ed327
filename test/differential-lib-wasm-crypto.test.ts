// wasm-crypto (Frank Denis's SHA-2, HMAC and Ed25519 for AssemblyScript): a
// guest that hashes, MACs and signs each payload and keeps a key pair, a hash
// chain and a running multi-part SHA-512 state in module state
// (test/fixtures/libs/wasm-crypto.ts) gives, through the engine, by every
// route, in long sequences on one instance and under concurrency, exactly the
// bytes plain asc gives; plain asc's bytes equal node:crypto's.
import { createHash, createHmac, createPrivateKey, sign, type Hash } from 'node:crypto';
import { SOURCE } from './fixtures/libs/wasm-crypto.js';
import {
  compileCwasi, compilePlain, differentialSuite, framed, randBytes, randInt, writeGuestSource, HISTORY_FLAG,
} from './helpers/differential.js';

const KEY = Buffer.from('cwasi differential hmac key');
const SEED_TEXT = 'cwasi differential ed25519 seed';
/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function reference(): (input: Uint8Array) => Uint8Array {
  const seed = createHash('sha256').update(SEED_TEXT).digest();
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  let chain: Buffer = Buffer.alloc(32);
  let running: Hash = createHash('sha512');
  let calls = 0;
  return (input) => {
    const history = (input[0]! & HISTORY_FLAG) !== 0;
    const m = input.subarray(1);
    const digest = createHash('sha512').update(m).digest();
    const parts: Uint8Array[] = [
      createHash('sha256').update(m).digest(),
      digest,
      createHmac('sha256', KEY).update(m).digest(),
      createHmac('sha512', KEY).update(m).digest(),
      sign(null, digest, key),
    ];
    calls++;
    chain = createHash('sha256').update(chain).update(m).digest();
    running.update(m);
    if (history) {
      const count = Buffer.alloc(4);
      count.writeUInt32LE(calls);
      parts.push(count, chain, running.copy().digest());
    }
    return Buffer.concat(parts);
  };
}

/** Mostly a few blocks, sometimes exactly around the 64- and 128-byte block edges, now and then 64 KiB. */
function payload(rnd: () => number): Uint8Array {
  const r = rnd();
  const size = r < 0.05 ? 0 : r < 0.3 ? randInt(rnd, 0, 3) * 64 + randInt(rnd, -1, 1) + 64 : r < 0.95 ? randInt(rnd, 1, 6000) : randInt(rnd, 60_000, 66_000);
  return randBytes(rnd, Math.max(0, size));
}

differentialSuite('wasm-crypto', {
  functions: async () => {
    const path = writeGuestSource('wasm-crypto', SOURCE);
    const plain = await compilePlain(path);
    const cwasi = await compileCwasi(path);
    return { fn: { name: 'wasm-crypto', plain, cwasi } };
  },
  input: (rnd, _i, history) => framed(history, payload(rnd)),
  reference,
  stateful: true,
});
