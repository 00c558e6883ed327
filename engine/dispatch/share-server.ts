// The share server: a worker asks (ShareRequest) for a shared object it has
// not seen yet (a memory group's memory and modules, a ring) and blocks on its
// control block until the answer is on its reply port.

import type { RingPools } from '../ring/pools.js';
import type { FunctionCoordinator } from '../coordinator.js';
import { CTRL_SHARE_STATE, SHARE_ANSWERED, type ShareReply, type ShareRequest } from '../worker/protocol.js';
import type { WorkerRegistry } from './worker-registry.js';

/** Answer a worker's share request (keys: `group:<id>#<generation>`, `ring:<id>`). */
export function serveShare(req: ShareRequest, registry: WorkerRegistry, coordinator: FunctionCoordinator, rings: RingPools): void {
  const link = registry.workers.get(req.threadId);
  if (link === undefined) return;
  // A task cancelled while this thread could not see its worker: stop it here, before it gets its memory.
  if (registry.terminateIfCancelled(req.threadId)) return;
  let reply: ShareReply;
  const [kind, rest] = [req.key.slice(0, req.key.indexOf(':')), req.key.slice(req.key.indexOf(':') + 1)];
  if (kind === 'group') {
    const hash = rest.lastIndexOf('#');
    const g = coordinator.group(rest.slice(0, hash));
    const gen = Number(rest.slice(hash + 1));
    reply = g !== undefined && g.memory !== undefined && g.generation === gen
      ? { type: 'cwasi:shared', key: req.key, install: g.install() }
      : { type: 'cwasi:shared', key: req.key, missing: 'no such memory group generation' };
  } else if (kind === 'ring') {
    const ring = rings.byId(Number(rest));
    reply = ring !== undefined ? { type: 'cwasi:shared', key: req.key, ring: ring.buffer } : { type: 'cwasi:shared', key: req.key, missing: 'no such ring' };
  } else {
    reply = { type: 'cwasi:shared', key: req.key, missing: 'unknown key' };
  }
  // Post the answer first, then wake the worker: it reads the port after the wake.
  link.port.postMessage(reply);
  Atomics.store(link.control, CTRL_SHARE_STATE >> 2, SHARE_ANSWERED);
  Atomics.notify(link.control, CTRL_SHARE_STATE >> 2);
}
