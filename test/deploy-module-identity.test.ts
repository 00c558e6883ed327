// A deployed function is bound to its module's bytes (sha256), not to a
// name, a path or a length: redeploying a name with other bytes (even of the
// same length, even at the same path rewritten on disk) is refused with both
// digests, leaves the running module in place, and redeploying the same bytes
// is a no-op.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { abiModule } from './helpers/wasm-builder.js';
import { closeEngine } from './helpers/settle.js';

const functions = fileURLToPath(new URL('../functions/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-identity-'));
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
});

test.after(async () => {
  await closeEngine(engine);
  rmSync(tmp, { recursive: true, force: true });
});

test('other bytes of the same length under a deployed name are refused; the old module keeps running', async () => {
  // Both write a 4-byte output at offset 2048; they differ in that offset's last byte only.
  const a = abiModule({ outPtr: 2048, outLen: 4 });
  const b = abiModule({ outPtr: 2049, outLen: 4 });
  assert.is(a.length, b.length);
  await engine.deploy({ name: 'same-len', module: a });
  await engine.deploy({ name: 'same-len', module: a.slice() }); // the same bytes again: a no-op
  await rejectsWith(engine.deploy({ name: 'same-len', module: b }), 'E_WORKFLOW_INVALID',
    /"same-len" is already deployed with another module \(sha256 [0-9a-f]{12}, now <bytes> has sha256 [0-9a-f]{12}\); a deployed module is not replaced/);
  const fn = engine.functions().find((f) => f.name === 'same-len');
  assert.ok(fn !== undefined);
  await engine.invoke('same-len', new Uint8Array(1));
});

test('a module file rewritten on disk is re-read at redeploy and refused as another module', async () => {
  const path = join(tmp, 'fn.wasm');
  copyFileSync(join(functions, 'identity.wasm'), path);
  await engine.deploy({ name: 'by-path', module: path });
  await engine.deploy({ name: 'by-path', module: path }); // unchanged: a no-op
  copyFileSync(join(functions, 'checksum.wasm'), path);
  await rejectsWith(engine.deploy({ name: 'by-path', module: path }), 'E_WORKFLOW_INVALID', /"by-path" is already deployed with another module/);
  // Still the identity module that was deployed first.
  assert.equal([...await engine.invoke('by-path', Uint8Array.of(7, 8, 9))], [7, 8, 9]);
});

test('the same bytes by path and as bytes are one module', async () => {
  const path = join(functions, 'identity.wasm');
  await engine.deploy({ name: 'either', module: path });
  await engine.deploy({ name: 'either', module: new Uint8Array(readFileSync(path)) });
});

test.run();
