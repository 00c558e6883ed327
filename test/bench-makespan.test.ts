// The fan-out/fan-in timing of `cwasi bench paper` (bench/paper/makespan.ts):
// makespan, the consumers' own runs and how many ran at once, from the step
// timestamps of an invocation report.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fanTiming } from '../bench/paper/makespan.js';
import { CwasiError } from '../engine/errors.js';

const step = (fn: string, inputReady: number, done: number) => ({ fn, inputReady, done });

test('fan-out on two workers: makespan from the producer start to the last consumer, runs per consumer, two at once', () => {
  const steps = [
    step('p', 100, 110),
    step('c0', 112, 120), step('c1', 112, 121),
    step('c2', 120, 128), step('c3', 121, 130),
  ];
  const t = fanTiming(steps, ['p'], ['c0', 'c1', 'c2', 'c3']);
  assert.is(t.makespanMs, 30);
  assert.equal(t.consumerRunMs, [8, 9, 8, 9]);
  assert.is(t.consumerSumMs, 34);
  assert.is(t.peakConcurrent, 2); // c2 starts exactly when c0 ends: not overlapping
});

test('consumers one after another: peak 1 and a makespan that holds their sum', () => {
  const steps = [step('p', 0, 1), step('a', 1, 5), step('b', 5, 9), step('c', 9, 13)];
  const t = fanTiming(steps, ['p'], ['a', 'b', 'c']);
  assert.is(t.peakConcurrent, 1);
  assert.is(t.consumerSumMs, 12);
  assert.is(t.makespanMs, 13);
});

test('fan-in: the earliest of many producers starts the makespan; one consumer', () => {
  const steps = [step('p0', 50, 60), step('p1', 40, 70), step('p2', 45, 52), step('agg', 71, 75)];
  const t = fanTiming(steps, ['p0', 'p1', 'p2'], ['agg']);
  assert.is(t.makespanMs, 35);
  assert.equal(t.consumerRunMs, [4]);
  assert.is(t.peakConcurrent, 1);
});

test('a missing step, bad timestamps or an empty side is a CwasiError', () => {
  const expectConfig = (fn: () => unknown, re: RegExp) => {
    try {
      fn();
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, CwasiError);
      assert.is((err as CwasiError).code, 'E_CONFIG');
      assert.match((err as Error).message, re);
    }
  };
  expectConfig(() => fanTiming([step('p', 0, 1)], ['p'], ['c']), /no step for function "c"/);
  expectConfig(() => fanTiming([step('p', 0, 1), step('c', 5, 4)], ['p'], ['c']), /bad timestamps/);
  expectConfig(() => fanTiming([step('p', 0, 1), step('c', Number.NaN, 4)], ['p'], ['c']), /bad timestamps/);
  expectConfig(() => fanTiming([step('p', 0, 1)], [], ['p']), /at least one producer/);
});

test.run();
