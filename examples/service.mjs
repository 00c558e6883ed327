// A Node HTTP service that runs a cwasi workflow per request.
//
//   node examples/service.mjs [port]          (after `npm run build`)
//   curl --data-binary @some-file http://127.0.0.1:8080/
//   → {"hash":"0x…","length":…}   cwasi-sum32 of transform(body)
//
// The request body is the input of `transform`, whose output `checksum` reads
// in place (both trusted in one domain: one shared memory, zero copy).
//
// The one subtle part is aborting: an invocation must stop when its client
// goes away, and only then. The signal is tied to the RESPONSE's 'close'
// before the response finished. Not to the request's 'close': node:http emits
// that as soon as the request body has been read (Node 20), which would abort
// every request that has a body.

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';
import { CwasiError, Engine } from 'cwasi';
import * as workloads from 'cwasi/workloads';

export const PIPELINE = {
  name: 'service-pipeline',
  functions: {
    transform: { module: 'transform', trusted: true, domain: 'service' },
    checksum: { module: 'checksum', trusted: true, domain: 'service' },
  },
  edges: [{ from: 'transform', to: 'checksum' }],
};

const STATUS = { E_PAYLOAD_TOO_LARGE: 413, E_QUEUE_FULL: 503, E_CLOSED: 503, E_TIMEOUT: 504, E_UNKNOWN_FUNCTION: 404 };

/** The request body as one Uint8Array, at most `limit` bytes; rejects when `signal` aborts. */
function readBody(req, limit, signal) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    const fail = (err) => {
      req.removeAllListeners('data');
      reject(err);
    };
    signal.addEventListener('abort', () => fail(new CwasiError('E_ABORTED', 'the client went away while sending')), { once: true });
    req.on('data', (chunk) => {
      length += chunk.length;
      if (length > limit) return fail(new CwasiError('E_PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`));
      chunks.push(chunk);
    });
    req.on('end', () => {
      const body = new Uint8Array(length);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(body);
    });
    req.on('error', fail);
  });
}

/**
 * Starts the service. `POST /` invokes the first of `targets`, `POST /NAME`
 * the target NAME when it is listed. `events` emits 'invoke' ({ target }) when
 * an invocation starts and 'done' ({ target, ok, code }) when it settles.
 * With no `engine` given, one is created (and closed by close()) with
 * PIPELINE deployed.
 */
export async function startService({ port = 0, host = '127.0.0.1', engine, targets = [PIPELINE.name], maxBodyBytes = 64 << 20, timeoutMs = 10_000 } = {}) {
  const own = engine === undefined;
  if (own) {
    engine = await Engine.create();
    await engine.deploy(PIPELINE);
  }
  const events = new EventEmitter();

  async function handle(req, res) {
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1)) || targets[0];
    try {
      if (req.method !== 'POST') throw Object.assign(new CwasiError('E_CONFIG', 'POST the input bytes'), { status: 405 });
      if (!targets.includes(name)) throw new CwasiError('E_UNKNOWN_FUNCTION', `no target "${name}" here`);
      const input = await readBody(req, maxBodyBytes, ac.signal);
      events.emit('invoke', { target: name });
      let output;
      try {
        output = await engine.invoke(name, input, { signal: ac.signal, timeoutMs });
        events.emit('done', { target: name, ok: true, code: undefined });
      } catch (err) {
        events.emit('done', { target: name, ok: false, code: err instanceof CwasiError ? err.code : 'E_INTERNAL' });
        throw err;
      }
      if (name === PIPELINE.name) {
        const [sum] = workloads.readChecksums(output);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hash: `0x${sum.hash.toString(16).padStart(8, '0')}`, length: sum.length }));
      } else {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(output);
      }
    } catch (err) {
      if (res.destroyed || res.headersSent) return; // the client is gone: nobody to answer
      const code = err instanceof CwasiError ? err.code : 'E_INTERNAL';
      const status = err.status ?? STATUS[code] ?? (code === 'E_CONFIG' ? 400 : 500);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: code, message: err.message }));
    }
  }

  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address();
  return {
    server,
    engine,
    events,
    url: `http://${host}:${bound}`,
    async close() {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      if (own) await engine.close();
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const svc = await startService({ port: Number(process.argv[2] ?? 8080) });
  console.log(`cwasi service on ${svc.url}: POST bytes to / for the checksum of transform(bytes); Ctrl-C stops`);
  process.once('SIGINT', () => void svc.close());
  process.once('SIGTERM', () => void svc.close());
}
