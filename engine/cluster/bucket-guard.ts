// Keeps the registry's two JetStream streams (KV_cwasi_<cluster>_nodes and
// KV_cwasi_<cluster>_functions) configured the way the registry needs them.
//
// Anyone allowed to call the JetStream API can edit a stream: one call that
// sets `max_msg_size` to 16 makes every record put fail, so heartbeats stop
// being stored and every node ages out of every view. The records are sealed,
// but a stream's configuration is not. So each node compares the streams'
// configuration with what the registry needs, at join (ClusterRegistry.open)
// and every few heartbeats, and at once when a put fails; a setting that
// differs is put back (`repairs` in clusterStats().registry), and one that
// cannot be (a sealed stream, a refused update) is a typed E_CONFIG naming it:
// thrown at join, reported in clusterStats().registry.problem afterwards.
//
//   | setting               | needed                                   | why                                      |
//   |-----------------------|------------------------------------------|------------------------------------------|
//   | max_msg_size          | unlimited (-1) or ≥ MIN_MSG_BYTES        | a sealed record must fit                 |
//   | max_msgs, max_bytes   | unlimited (-1)                           | a limit drops or refuses records         |
//   | max_msgs_per_subject  | the bucket's history (1)                 | one record per key                       |
//   | max_age               | nodes: none or ≥ the TTL this node asked; functions: none | records must outlive heartbeats |
//   | max_consumers         | unlimited (-1)                           | every node watches the bucket            |
//   | num_replicas          | ≥ the replicas asked for                 | durability on a NATS cluster             |
//   | subjects              | exactly `$KV.<bucket>.>`                 | puts must land in this stream            |
//   | sealed                | false (cannot be undone: reported)       | a sealed stream takes no puts            |
//   | (the stream itself)   | exists                                   | a deleted one is made again, and each    |
//   |                       |                                          | node puts back the records it had put    |

import { jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { CwasiError } from '../errors.js';

/** The smallest message size limit a sealed record fits in (records are a few KiB; a node with many functions more). */
export const MIN_MSG_BYTES = 256 * 1024;

export interface BucketNeeds {
  bucket: string;
  history: number;
  /** The TTL this node would create the bucket with (ms); 0: records must not expire. */
  ttlMs: number;
  replicas: number;
}

interface Setting {
  key: string;
  ok(have: unknown, needs: BucketNeeds): boolean;
  /** The value to put back; undefined when it cannot be repaired. */
  fix(needs: BucketNeeds): unknown;
}

const unlimited = (key: string): Setting => ({ key, ok: (h) => h === -1, fix: () => -1 });
const NS_PER_MS = 1_000_000;

const SETTINGS: Setting[] = [
  { key: 'max_msg_size', ok: (h) => h === -1 || (typeof h === 'number' && h >= MIN_MSG_BYTES), fix: () => -1 },
  unlimited('max_msgs'),
  unlimited('max_bytes'),
  unlimited('max_consumers'),
  { key: 'max_msgs_per_subject', ok: (h, n) => h === n.history, fix: (n) => n.history },
  {
    key: 'max_age',
    ok: (h, n) => h === 0 || (n.ttlMs > 0 && typeof h === 'number' && h >= n.ttlMs * NS_PER_MS),
    fix: (n) => n.ttlMs * NS_PER_MS,
  },
  { key: 'num_replicas', ok: (h, n) => typeof h === 'number' && h >= n.replicas, fix: (n) => n.replicas },
  { key: 'subjects', ok: (h, n) => Array.isArray(h) && h.length === 1 && h[0] === `$KV.${n.bucket}.>`, fix: (n) => [`$KV.${n.bucket}.>`] },
  { key: 'sealed', ok: (h) => h !== true, fix: () => undefined },
];

/** JetStream's error code for "subjects overlap with an existing stream". */
const SUBJECT_OVERLAP = 10065;
/** Tries of one bucket's create; each lost race means another node made the bucket meanwhile. */
const CREATE_TRIES = 3;
/**
 * Open a bucket, creating it if it is missing. Nodes of a new cluster that
 * start together race to create the same bucket, and a JetStream server
 * (seen on 2.9) checks the name and the subjects under separate locks: the
 * loser of the race is told its subjects overlap the stream the winner just
 * made. Asking again then finds that stream. An overlap that persists is a
 * different stream holding the bucket's subjects, and is reported as such.
 */
export async function createBucket(kvm: Kvm, name: string, opts: Parameters<Kvm['create']>[1]): Promise<KV> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kvm.create(name, opts);
    } catch (err) {
      if ((err as { code?: unknown }).code !== SUBJECT_OVERLAP) throw err;
      if (attempt >= CREATE_TRIES) {
        throw new CwasiError('E_CONFIG', `registry bucket ${name} cannot be created: another JetStream stream already takes its subjects ($KV.${name}.>); `
          + 'remove that stream or choose another cluster name');
      }
    }
  }
}

/** JetStream's error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

export class BucketGuard {
  /** Settings put back so far (a stream made again counts one). */
  repairs = 0;
  /** The last difference that could not be repaired, until a check finds none. */
  problem: string | undefined;
  private checking: Promise<void> | undefined;

  /** When each stream was created, as last seen: a change means it was deleted and made again (by any node). */
  private readonly created = new Map<string, string>();

  private constructor(
    private readonly jsm: JetStreamManager,
    private readonly needs: BucketNeeds[],
    private readonly recreate: (needs: BucketNeeds) => Promise<void>,
    private readonly reput: (needs: BucketNeeds) => Promise<void>,
  ) {}

  /**
   * `recreate` makes a bucket again when its stream was deleted; `reput` puts
   * back what this node had put in it, whichever node made it again.
   */
  static async open(nc: NatsConnection, needs: BucketNeeds[], recreate: (needs: BucketNeeds) => Promise<void>, reput: (needs: BucketNeeds) => Promise<void>): Promise<BucketGuard> {
    return new BucketGuard(await jetstreamManager(nc), needs, recreate, reput);
  }

  /**
   * Compare both streams with what they need and put back what differs.
   * Rejects with E_CONFIG naming the setting when one cannot be repaired; a
   * check already running is joined, not repeated.
   */
  check(): Promise<void> {
    this.checking ??= (async () => {
      try {
        for (const n of this.needs) await this.checkOne(n);
        this.problem = undefined;
      } catch (err) {
        if (err instanceof CwasiError) this.problem = err.message;
        throw err;
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async checkOne(needs: BucketNeeds): Promise<void> {
    const stream = `KV_${needs.bucket}`;
    let config: StreamConfig & Record<string, unknown>;
    try {
      const info = await this.jsm.streams.info(stream);
      config = info.config as StreamConfig & Record<string, unknown>;
      const seen = this.created.get(stream);
      this.created.set(stream, info.created);
      if (seen !== undefined && seen !== info.created) await this.reput(needs);
    } catch (err) {
      if ((err as { code?: unknown }).code !== STREAM_NOT_FOUND) throw err;
      // Deleted (an API call away for anyone with JetStream rights): make it again.
      await this.recreate(needs);
      this.repairs++;
      this.created.set(stream, (await this.jsm.streams.info(stream)).created);
      await this.reput(needs);
      return;
    }
    const wrong = SETTINGS.filter((s) => !s.ok(config[s.key], needs));
    if (wrong.length === 0) return;
    const describe = (s: Setting) => `${s.key} is ${JSON.stringify(config[s.key])}`;
    const fixable = wrong.filter((s) => s.fix(needs) !== undefined);
    if (fixable.length < wrong.length) {
      throw new CwasiError('E_CONFIG', `registry stream ${stream} cannot be repaired: ${wrong.filter((s) => !fixable.includes(s)).map(describe).join(', ')} `
        + `(the registry needs what engine/cluster/bucket-guard.ts lists; an operator must recreate the stream)`, { stream, settings: wrong.map((s) => s.key) });
    }
    const patch: Record<string, unknown> = {};
    for (const s of fixable) patch[s.key] = s.fix(needs);
    try {
      await this.jsm.streams.update(stream, { ...config, ...patch });
    } catch (err) {
      throw new CwasiError('E_CONFIG', `registry stream ${stream} was changed (${wrong.map(describe).join(', ')}) and could not be put back: ${(err as Error).message}`,
        { stream, settings: wrong.map((s) => s.key) }, { cause: err });
    }
    this.repairs += fixable.length;
  }
}
