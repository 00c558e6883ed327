// Limits on calls that functions start from inside (guest calls), and the
// gate through which the Request Dispatcher admits them.
//
// A guest can start calls far faster than the main thread can serve them: a
// loop of call_start posts one request per iteration. Three limits keep that
// bounded (ABI.md, status -5, each refusal names its limit):
//
//  - depth: calls nested through the dispatcher and inline; checked by the
//    caller's worker (engine/worker/host.ts) and again here;
//  - calls in flight per invocation: started and not yet waited for, per
//    guest invocation in its worker, and per engine invocation here;
//  - calls in flight per engine: here.
//
// The gate also bounds the main thread's work per turn of the event loop:
// requests queue and at most BATCH of them are started per turn, so a burst
// delays timers and I/O by one batch, not by the whole burst.

import type { CwasiError } from './errors.js';
import { limitError } from './abi.js';
import type { GuestCallRequest } from './worker/protocol.js';
import type { GuestCallLimits } from './options/defaults.js';

// maxDepth, maxInFlightPerInvocation and maxInFlight: EngineOptions.guestCalls,
// their defaults in OPTION_DEFAULTS.engine.guestCalls.
export type { GuestCallLimits };

/** Requests started per turn of the event loop. */
const BATCH = 32;

export class GuestCallGate {
  private readonly queue: GuestCallRequest[] = [];
  private head = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly perInvocation = new Map<number, number>();

  constructor(readonly limits: GuestCallLimits, private readonly serve: (req: GuestCallRequest) => Promise<void>, private readonly refuse: (req: GuestCallRequest, err: CwasiError) => void) {}

  get pending(): number {
    return this.queue.length - this.head + this.inFlight;
  }

  /** Queue a request; it is started on this or a later turn. */
  push(req: GuestCallRequest): void {
    this.queue.push(req);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + BATCH);
    while (this.head < end) this.admit(this.queue[this.head++]!);
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  };

  private admit(req: GuestCallRequest): void {
    const l = this.limits;
    const mine = this.perInvocation.get(req.invocationId) ?? 0;
    let refused: CwasiError | undefined;
    if (!(req.depth >= 1 && req.depth <= l.maxDepth)) {
      refused = limitError('depth', `guest call depth limit of ${l.maxDepth} reached (${req.caller} → ${req.target})`);
    } else if (mine >= l.maxInFlightPerInvocation) {
      refused = limitError('inFlightPerInvocation', `limit of ${l.maxInFlightPerInvocation} guest calls in flight per invocation reached (${req.caller} → ${req.target})`);
    } else if (this.inFlight >= l.maxInFlight) {
      refused = limitError('inFlight', `engine limit of ${l.maxInFlight} guest calls in flight reached (${req.caller} → ${req.target})`);
    }
    if (refused !== undefined) {
      this.refuse(req, refused);
      return;
    }
    this.inFlight++;
    this.perInvocation.set(req.invocationId, mine + 1);
    void this.serve(req).finally(() => {
      this.inFlight--;
      const n = (this.perInvocation.get(req.invocationId) ?? 1) - 1;
      if (n === 0) this.perInvocation.delete(req.invocationId);
      else this.perInvocation.set(req.invocationId, n);
    });
  }
}
