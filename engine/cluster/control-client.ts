// The requesting side of the control subjects (engine/cluster/protocol.ts):
// a sealed request to one node, answered only by a reply that node sealed for
// that very request, and the sealed challenge that decides whether a node
// name is held.
//
// Anyone who can subscribe on a node's subjects (NATS credentials without the
// cluster secret, a monitor on `cwasi.<cluster>.>`) sees the requests and may
// answer them first; such answers are counted and ignored
// (`ClusterStats.refused.replies`), never taken as the node's. The wait for
// the authentic reply ends with the node's liveness, a dropped NATS
// connection, or the timeout.

import { CwasiError, asCwasiError } from '../errors.js';
import { type ClusterRegistry, natsError } from './registry.js';
import { type ControlSigner, replyContext } from './signing.js';
import type { NodeLiveness } from './liveness.js';
import type { ControlRequest, PingReply } from './protocol.js';

const decoder = new TextDecoder();
/** How long a starting node waits for a holder of its name to meet the ping challenge. */
export const NAME_PROBE_MS = 2000;
/** The same when the name has no sealed record or its record is a tombstone: a holder is unlikely, so wait less. */
const NAME_PROBE_UNHELD_MS = 500;

export class ControlClient {
  constructor(
    private readonly cluster: string,
    private readonly registry: ClusterRegistry,
    private readonly signer: ControlSigner,
    private readonly liveness: NodeLiveness,
  ) {}

  subject(node: string, verb: string): string {
    return `cwasi.${this.cluster}.node.${node}.${verb}`;
  }

  /**
   * `body` sealed to the incarnation of `node` this node's view holds;
   * resolves with the body of `node`'s sealed reply. When the node answers
   * that it restarted since (a request for another incarnation does nothing
   * there), the request goes once more, to the incarnation it named, after
   * the view has caught up with it.
   */
  async request<T>(node: string, body: ControlRequest, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    // While the client fails over to another NATS server, wait (bounded) rather than fail.
    await this.registry.whenConnected(`${body.type} on node "${node}"`);
    const rec = await this.registry.requireNode(node);
    const deadline = Date.now() + timeoutMs;
    const reply = await this.once<T>(node, { ...body, epoch: rec.startedAt }, timeoutMs, signal);
    const current = restartedAs(reply);
    if (current === undefined || current <= rec.startedAt) return reply;
    await this.registry.whenIncarnation(node, current, Math.max(1, deadline - Date.now()));
    return this.once<T>(node, { ...body, epoch: current }, Math.max(1, deadline - Date.now()), signal);
  }

  /** The epoch of `node` to use in a cancel (no reply to learn a newer one from). */
  epochOf(node: string): number | undefined {
    return this.registry.node(node)?.startedAt;
  }

  private async once<T>(node: string, body: ControlRequest, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    // Aborted while waiting for the connection or the node's record: the
    // cancel has gone out already, so a request sent now would overtake
    // nothing and run to its deadline on the node. Send nothing.
    if (signal?.aborted) throw asCwasiError(signal.reason, 'E_ABORTED');
    const subject = this.subject(node, body.type);
    const sealed = this.signer.seal(subject, body);
    // Only a reply `node` sealed for this request answers it; an unsealed
    // refusal is remembered for the error, in case the secret is ours that is wrong.
    let refusal: string | undefined;
    const accept = (data: Uint8Array): T | undefined => {
      try {
        return this.openReply<T>(node, sealed.nonce, data);
      } catch {
        refusal ??= unsealedRefusal(data);
        return undefined;
      }
    };
    // Whatever ends the wait (liveness, a dropped connection, the caller's
    // abort) also ends the request's own inbox and timer.
    const gaveUp = new AbortController();
    const onAbort = () => gaveUp.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // A reply cannot arrive while NATS is down: give up as soon as the connection drops.
      const dropped = this.registry.whenDisconnected().then(() => {
        throw new CwasiError('E_NATS', `the connection to NATS dropped while waiting for node "${node}" to ${body.type}`);
      });
      dropped.catch(() => {});
      // Nor from a node that died or was cut off: give up once it is judged lost.
      return await this.liveness.during(node, `a ${body.type} request`, Promise.race([
        this.registry.request(node, subject, sealed.data, Math.max(1, timeoutMs), accept, gaveUp.signal),
        dropped,
      ]));
    } catch (err) {
      if (err instanceof CwasiError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      if (/no responders/i.test(msg)) throw new CwasiError('E_NET', `node "${node}" is not answering (no responders)`);
      if (/timeout/i.test(msg)) {
        const ignored = (err as { ignored?: number }).ignored ?? 0;
        if (refusal !== undefined) {
          throw new CwasiError('E_AUTH', `node "${node}" gave no authentic answer to ${body.type} within ${timeoutMs} ms; of ${ignored} unauthenticated `
            + `replies one was a refusal (${refusal}): if this node's cluster secret differs from the cluster's, the nodes refuse its requests`);
        }
        throw new CwasiError('E_TIMEOUT', `node "${node}" did not answer ${body.type} within ${timeoutMs} ms`
          + (ignored > 0 ? ` (${ignored} unauthenticated replies ignored)` : ''));
      }
      throw natsError(`request to node "${node}"`, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      gaveUp.abort();
    }
  }

  /**
   * Refuses (E_NAME_TAKEN) to let `self` start under a name a live node
   * holds. The name is taken when its holder answers a sealed ping with a
   * reply it sealed for that ping (a challenge only a holder of the secret
   * can meet), or, when nobody answers in time, while the name's sealed
   * registry record keeps beating (a holder too busy to answer). No
   * responders, silence, or replies without the secret (another subscriber on
   * the subject, a monitor) leave it free; when the name has no sealed
   * record, or a tombstone, the wait is shorter. Two nodes starting under one name
   * within the same round trip can both pass; the later announce then wins
   * the record.
   */
  async claimName(self: string): Promise<void> {
    const subject = this.subject(self, 'ping');
    const sealed = this.signer.seal(subject, { type: 'ping' });
    const before = await this.registry.sealedRecord(self);
    const probeMs = before === undefined || before.leftAt !== undefined ? NAME_PROBE_UNHELD_MS : NAME_PROBE_MS;
    let holder: PingReply;
    try {
      holder = await this.registry.request(self, subject, sealed.data, probeMs, (d) => this.openReply<PingReply>(self, sealed.nonce, d));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (/no responders/i.test(msg)) return;
      if (!/timeout/i.test(msg)) throw natsError('cannot check whether the node name is taken', err);
      const after = await this.registry.sealedRecord(self);
      if (before !== undefined && after !== undefined && after.leftAt === undefined && after.heartbeatAt > before.heartbeatAt) {
        throw new CwasiError('E_NAME_TAKEN', `node name "${self}" is held by a live node of cluster "${this.cluster}" (pid ${after.pid}, `
          + `up since ${new Date(after.startedAt).toISOString()}): it did not answer within ${probeMs} ms but its heartbeat goes on`);
      }
      return;
    }
    throw new CwasiError('E_NAME_TAKEN', `node name "${self}" is held by a live node of cluster "${this.cluster}" `
      + `(pid ${holder.pid}, up since ${new Date(holder.startedAt).toISOString()})`);
  }

  /** The body of a reply `node` sealed for the request sealed with `nonce`; throws otherwise. */
  private openReply<T>(node: string, nonce: string, data: Uint8Array): T {
    const opened = this.signer.open<T>(replyContext(nonce), data, false, false);
    if (opened.from !== node) throw new CwasiError('E_AUTH', `reply sealed by "${opened.from}", not "${node}"`);
    return opened.body;
  }
}

/** The incarnation a node's sealed "you asked my previous incarnation" refusal names, else undefined. */
function restartedAs(reply: unknown): number | undefined {
  const r = reply as { ok?: unknown; error?: { code?: unknown; details?: { reason?: unknown; epoch?: unknown } } } | null;
  if (r?.ok !== false || r.error?.code !== 'E_NET' || r.error.details?.reason !== 'epoch') return undefined;
  const epoch = r.error.details.epoch;
  return typeof epoch === 'number' && Number.isFinite(epoch) ? epoch : undefined;
}

/** The message of an unsealed E_AUTH refusal (what a node answers a request it cannot authenticate), else undefined. */
function unsealedRefusal(data: Uint8Array): string | undefined {
  try {
    const r = JSON.parse(decoder.decode(data)) as { ok?: unknown; error?: { code?: unknown; message?: unknown } } | null;
    if (r?.ok === false && r.error?.code === 'E_AUTH') return String(r.error.message).slice(0, 200);
  } catch {
    // neither sealed nor JSON
  }
  return undefined;
}
