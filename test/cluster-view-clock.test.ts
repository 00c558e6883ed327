// The registry's judging clock (engine/cluster/view-clock.ts), driven by a
// wall clock the test sets. CI failed once in cluster-nats-r3: after the
// coordinator's NATS server was killed, JetStream had no leader for about
// 5 s; when the coordinator's own beat made the round trip again its clock
// jumped to the wall time while node b's next beat had not landed yet, so b
// was "not alive" and the run asked of it failed with E_NET. Now, after an
// outage, every node gets one liveness window to beat before the lost time
// counts; a node that stays silent is still judged dead once it has passed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ViewClock } from '../engine/cluster/view-clock.js';

const PERIOD = 500;
const WINDOW = 3 * PERIOD;

/** A clock whose wall time the test moves; every beat of our own is stored and read back at once unless `outage`. */
function harness(start = 1_000_000) {
  let wall = start;
  const clock = new ViewClock(PERIOD, () => WINDOW, () => wall);
  clock.begin();
  const alive = (lastBeat: number) => clock.now() - lastBeat <= WINDOW;
  return {
    clock,
    alive,
    get wall() {
      return wall;
    },
    /** Move the wall clock by `ms`, beating every period unless `outage`. */
    run(ms: number, outage = false) {
      const end = wall + ms;
      while (wall < end) {
        wall = Math.min(end, wall + PERIOD);
        if (!outage) {
          clock.beatStored(wall);
          clock.beatSeen(wall);
        }
      }
    },
  };
}

test('while our own beats round-trip, the clock is the wall clock', () => {
  const h = harness();
  h.run(10 * PERIOD);
  assert.is(h.clock.now(), h.wall);
});

test('while they do not, it stops one period after the last round trip', () => {
  const h = harness();
  h.run(4 * PERIOD);
  const last = h.wall;
  h.run(5000, true);
  assert.is(h.clock.now(), last + PERIOD);
  assert.ok(h.alive(last - PERIOD), 'a node that beat just before the outage stays alive through it');
});

test('after an outage a node that beat just before it has one window to beat again; a silent one is dead after it', () => {
  const h = harness();
  h.run(4 * PERIOD);
  const before = h.wall; // another node's last beat before the outage
  h.run(5000, true);
  h.run(PERIOD); // our own beat round-trips again
  // The old clock jumped to the wall time here: 5.5 s past `before`, far outside the window.
  assert.ok(h.alive(before), 'alive right after the view is fresh again');
  h.run(WINDOW - PERIOD);
  assert.ok(h.clock.now() <= h.wall, 'the clock never runs ahead of the wall');
  // One window after the round trip came back, the lost time counts: silent means dead.
  h.run(PERIOD);
  assert.is(h.clock.now(), h.wall, 'back on the wall clock');
  assert.not.ok(h.alive(before), 'a node that stayed silent through the window is dead');
  assert.ok(h.alive(h.wall - PERIOD), 'one that beat meanwhile is alive');
});

test('a node dead before the outage is not brought back by it', () => {
  const h = harness();
  h.run(10 * PERIOD);
  const diedAt = h.wall - 2 * WINDOW;
  assert.not.ok(h.alive(diedAt));
  h.run(5000, true);
  h.run(PERIOD);
  assert.not.ok(h.alive(diedAt), 'still dead when the clock catches up');
});

test('before the first beat the clock is the wall clock', () => {
  let wall = 42;
  const clock = new ViewClock(PERIOD, () => WINDOW, () => wall);
  assert.is(clock.now(), 42);
  wall = 10_000;
  assert.is(clock.now(), 10_000);
});

test.run();
