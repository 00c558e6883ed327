// A module that would let one instance's shadow stack overlap another's is
// refused at deploy with E_WASM_INVALID and told to use `cwasi build`: built
// without the transform (its stack pointer is not exported, so the host cannot
// give each instance a stack of its own) or without --exportStart (its
// initialisation would run on the shared default stack). Real asc builds of a
// bundled function's source, each with one flag left out, and hand-built ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { ascArgs, compileFunction, compileWith, TRANSFORM } from '../engine/build/asc.js';
import { USER_STATIC_BASE } from '../engine/memory/layout.js';
import { rejectsWith } from './helpers/assert-error.js';
import { abiModule } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

const SOURCE = 'asm-functions/functions/identity.ts';
let engine: Engine;

/** The cwasi asc command line for SOURCE without the flags in `drop` (and their values). */
function argsWithout(...drop: string[]): string[] {
  const args = ascArgs(SOURCE, USER_STATIC_BASE);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (drop.includes(args[i]!)) {
      if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
});

test.after(async () => {
  await closeEngine(engine);
});

test('the same source built with every cwasi flag deploys and runs (control)', async () => {
  await engine.deploy({ name: 'good', module: await compileFunction(SOURCE, USER_STATIC_BASE) });
  const out = await engine.invoke('good', Uint8Array.of(1, 2, 3));
  assert.equal([...out], [1, 2, 3]);
});

test('built without the stack-pointer transform: refused, naming the stack and cwasi build', async () => {
  const args = argsWithout('--transform');
  assert.not.ok(args.includes(TRANSFORM));
  await rejectsWith(engine.deploy({ name: 'no-transform', module: await compileWith(args) }), 'E_WASM_INVALID',
    /no-transform: <bytes> is not a safe cwasi module: it does not export its shadow stack pointer as __stack_pointer .*Build it with `cwasi build`/);
  assert.not.ok(engine.functions().some((f) => f.name === 'no-transform'));
});

test('built without --exportStart: refused, naming _start', async () => {
  await rejectsWith(engine.deploy({ name: 'no-start', module: await compileWith(argsWithout('--exportStart')) }), 'E_WASM_INVALID',
    /no-start: .*it does not export its initialisation as _start/);
});

test('hand-built modules lacking either export are refused the same way, with every problem named', async () => {
  await rejectsWith(engine.deploy({ name: 'h1', module: abiModule({ noStackPointer: true }) }), 'E_WASM_INVALID', /__stack_pointer/);
  await rejectsWith(engine.deploy({ name: 'h2', module: abiModule({ noStart: true }) }), 'E_WASM_INVALID', /_start/);
  const e = await rejectsWith(engine.deploy({ name: 'h3', module: abiModule({ noStackPointer: true, noStart: true }) }), 'E_WASM_INVALID');
  assert.is((e.details?.['problems'] as string[]).length, 2);
  await engine.deploy({ name: 'h4', module: abiModule() });
});

test.run();
