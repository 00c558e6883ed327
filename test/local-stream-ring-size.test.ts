// The stream form's ring is at least LOCAL_STREAM_RING_BYTES whatever
// `local.ringBytes` says (smaller rings cut its frames below the size that
// keeps two copies overlapped), and `local.ringBytes` when larger; the
// descriptor form's ring holds a few frames only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DESCRIPTOR_RING_BYTES, LOCAL_STREAM_RING_BYTES, ringBytesFor, streamChunkBytes } from '../engine/channels/local.js';
import { RingPools } from '../engine/ring/pools.js';

test('a stream ring is never below the floor, and a larger local.ringBytes wins', () => {
  assert.is(ringBytesFor(new RingPools(1 << 20), 'stream'), LOCAL_STREAM_RING_BYTES);
  assert.is(ringBytesFor(new RingPools(64 * 1024), 'stream'), LOCAL_STREAM_RING_BYTES);
  assert.is(ringBytesFor(new RingPools(32 << 20), 'stream'), 32 << 20);
  assert.is(ringBytesFor(new RingPools(32 << 20), 'descriptor'), DESCRIPTOR_RING_BYTES);
});

test('the default stream ring carries DATA frames of about 2 MiB', () => {
  const chunk = streamChunkBytes(LOCAL_STREAM_RING_BYTES);
  assert.ok(chunk > 2 * 1024 * 1024 - 256 && chunk <= 2 * 1024 * 1024, `chunk ${chunk}`);
});

test.run();
