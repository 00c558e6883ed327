// The worker that runs a module probe (memory/probe-protocol.ts): the one
// place where the engine instantiates a module it has not yet accepted, so
// that a start section that never returns blocks this thread only, which
// the main thread terminates at its time bound (memory/probe-runner.ts).
// Answers one request, then closes its port so the thread ends by itself
// (a thread that ends on its own also writes its coverage).

import { parentPort } from 'node:worker_threads';
import { toErrorRecord } from '../errors.js';
import { abiVersionOf, probeModule } from './module-probe.js';
import type { ProbeReply, ProbeRequest } from './probe-protocol.js';

function answer(req: ProbeRequest): ProbeReply {
  try {
    if (req.type === 'probe-module') return { type: 'probed', info: probeModule(req.module) };
    return { type: 'abi-version', version: abiVersionOf(req.module, req.initialPages, req.maximumPages) };
  } catch (err) {
    // probeModule throws CwasiErrors; anything else is the module's doing too.
    return { type: 'failed', error: toErrorRecord(err, 'E_WASM_INVALID') };
  }
}

const port = parentPort!;
port.once('message', (req: ProbeRequest) => {
  port.postMessage(answer(req));
  port.close();
});
