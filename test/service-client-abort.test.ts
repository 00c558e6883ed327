// examples/service.mjs, the HTTP service of the README: requests with a body
// complete (the abort is tied to the response, not to the request's 'close'
// that node:http emits once the body is read), and a client that disconnects
// mid-request aborts its invocation with E_ABORTED, after which the memory
// it held is free again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { once, type EventEmitter } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { root } from './helpers/cli.js';
import { memoryInUse, within } from './helpers/settle.js';
import { SEED } from './helpers/env.js';

interface Service {
  url: string;
  events: EventEmitter;
  engine: Engine;
  close(): Promise<void>;
}
interface ServiceModule {
  PIPELINE: { name: string };
  startService(o: { engine?: Engine; targets?: string[]; port?: number }): Promise<Service>;
}

const WAIT_MS = 20_000;
let engine: Engine;
let svc: Service;
let mod: ServiceModule;
/** A one-thread engine and its service, for the abort test (see there). */
let single: Engine | undefined;
let singleSvc: Service | undefined;

test.before(async () => {
  mod = (await import(pathToFileURL(join(root, 'examples', 'service.mjs')).href)) as ServiceModule;
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(mod.PIPELINE as Parameters<Engine['deploy']>[0]);
  svc = await mod.startService({ engine, targets: [mod.PIPELINE.name] });
});

test.after(async () => {
  await singleSvc?.close();
  await single?.close();
  await svc?.close();
  await engine?.close();
});

function post(path: string, body: Uint8Array, to: Service = svc): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${to.url}${path}`, { method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('requests with a body complete with the right checksum, several at once', async () => {
  const bodies = [1, 2, 3, 4].map((i) => workloads.produce(64 * 1024 * i + i, SEED + i));
  const replies = await within(Promise.all(bodies.map((b) => post('/', b))), WAIT_MS, 'replies');
  replies.forEach((r, i) => {
    assert.is(r.status, 200, r.body.toString());
    const want = workloads.checksum(workloads.transform(bodies[i]!));
    assert.equal(JSON.parse(r.body.toString()), { hash: `0x${want.toString(16).padStart(8, '0')}`, length: bodies[i]!.length });
  });
});

test('a client that disconnects mid-request aborts its invocation; its memory is freed', async () => {
  // One thread: the later request below can then only run on the killed
  // worker's replacement, which the pool starts when the killed thread has
  // exited, the moment its memory is given back. With two threads the other
  // worker can answer first, before that exit, and the check would race it.
  single = await Engine.create({ threads: 1 });
  await single.deploy({ name: 'spin', module: 'spin' });
  const s = await mod.startService({ engine: single, targets: ['spin'] });
  singleSvc = s;
  const invoked = once(s.events, 'invoke');
  const done = once(s.events, 'done');
  const req = http.request(`${s.url}/spin`, { method: 'POST' });
  req.on('error', () => {}); // the socket is destroyed on purpose
  req.end(Uint8Array.of(1)); // spin loops on a first byte of 1
  const [started] = await within(invoked, WAIT_MS, 'the invocation starts');
  assert.is(started.target, 'spin');
  req.destroy();
  const [outcome] = await within(done, WAIT_MS, 'the invocation settles');
  assert.equal(outcome, { target: 'spin', ok: false, code: 'E_ABORTED' });
  assert.is(single.stats().invocations.inFlight, 0);
  // The service carries on; once a later request is answered no byte of the
  // function memory is held by an invocation: what is in use is the live
  // instance's own (its shadow stack) and the thread's chunk cache.
  const r = await within(post('/spin', Uint8Array.of(7, 8), s), WAIT_MS, 'a later request');
  assert.is(r.status, 200);
  assert.equal([...r.body], [7, 8]);
  const g = single.stats().memory.find((m) => m.members.includes('spin'))!;
  assert.is(g.bytesInUse - g.cachedBytes - g.instanceBytes, 0, `held by invocations: ${JSON.stringify(g)}`);
  assert.is(memoryInUse(single, 'spin').liveArenas, 1, 'one instance arena, of the one live thread');
});

test.run();
