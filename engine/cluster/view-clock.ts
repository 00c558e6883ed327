// The time at which the registry judges heartbeat ages (registry.ts alive()).
//
// This node beats too, and reads its own beats back through the bucket. While
// they are not being stored (the bucket has no JetStream leader) or not coming
// back (the watch's consumer is gone until the meta leader is elected again;
// on a NATS cluster, for seconds after the server that held them died), the
// view is what is stale, not the nodes in it: the clock stops one period after
// the last beat that made the round trip, instead of declaring every node dead.
//
// When the round trip works again, the other nodes' beats resume too, but
// each on its own schedule, up to a period or more later. Jumping the clock
// to the wall time at once declared them all dead for that moment (a run
// asked of one of them then failed with E_NET). So after an outage the clock
// runs on from where it stopped for one liveness window, which gives every
// node that window to land a beat, and then rejoins the wall time: a node
// that has not beaten by then is judged by its real age, and is dead.
//
//   state      │ now()
//   ───────────┼─────────────────────────────────────────────────────────
//   not begun  │ wall time (no beats of our own to compare with)
//   fresh      │ wall time
//   stale      │ last round trip + one period (stopped): the own beat is
//              │ more than 1.5 periods late
//   catching up│ wall time − the time lost while stale, for one window
//              │ after the round trip came back

/** Own beat later than this many periods: the view is stale. */
const STALE_AFTER_PERIODS = 1.5;

export class ViewClock {
  /** Newest own beat the bucket acknowledged, and newest read back from it (0 until begun). */
  private stored = 0;
  private seen = 0;
  /** Time lost to the last outage, and the wall time until which it is subtracted. */
  private lostMs = 0;
  private catchUpUntil = 0;

  /**
   * `periodMs`: this node's heartbeat period. `windowMs`: how long a node may
   * go without a beat (the longest liveness window in the view), read when an
   * outage ends. `wall`: the wall clock (Date.now; a test gives its own).
   */
  constructor(
    private readonly periodMs: number,
    private readonly windowMs: () => number,
    private readonly wall: () => number = Date.now,
  ) {}

  /** Beats start now. */
  begin(): void {
    this.stored = this.seen = this.wall();
  }

  /** An own beat stamped `at` was acknowledged by the bucket. */
  beatStored(at: number): void {
    this.roundTrip(() => {
      this.stored = Math.max(this.stored, at);
    });
  }

  /** An own beat stamped `at` was read back from the bucket. */
  beatSeen(at: number): void {
    this.roundTrip(() => {
      this.seen = Math.max(this.seen, at);
    });
  }

  now(): number {
    const wall = this.wall();
    if (this.stored === 0) return wall;
    const stop = this.stoppedAt(wall);
    if (stop !== undefined) return stop;
    return wall < this.catchUpUntil ? wall - this.lostMs : wall;
  }

  /** Where the clock stands stopped, or undefined while the view is fresh. */
  private stoppedAt(wall: number): number | undefined {
    const fresh = Math.min(this.stored, this.seen);
    return wall - fresh > STALE_AFTER_PERIODS * this.periodMs ? fresh + this.periodMs : undefined;
  }

  private roundTrip(update: () => void): void {
    const wall = this.wall();
    const stop = this.stored === 0 ? undefined : this.stoppedAt(wall);
    update();
    if (stop !== undefined && this.stoppedAt(wall) === undefined) {
      // Fresh again after an outage: run on from the stop for one window.
      this.lostMs = wall - stop;
      this.catchUpUntil = wall + this.windowMs();
    }
  }
}
