// Measuring one payload moving over one edge, shared by the local-buffer,
// embedding and paper benchmarks.
//
// The workload is the paper's: a producer function makes N bytes and returns
// them; a consumer function (checksum) reads every byte. Per invocation the
// engine reports, for every step, when its input was complete in its memory
// (`inputReady`) and when it returned (`done`), on one clock
// (performance.timeOrigin + performance.now(), comparable across threads).
//   transfer (the paper's latency) = consumer.inputReady − producer.done
//   end to end                     = invoke() called → result resolved

import { Engine, type EngineOptions, type IfcMode, type InvocationReport } from 'cwasi';
import * as workloads from 'cwasi/workloads';

export interface EdgeSample {
  transferMs: number;
  endToEndMs: number;
}

/** A two-function workflow `name`: producer → checksum, trusted together or isolated. */
export async function deployPair(engine: Engine, name: string, trusted: boolean): Promise<void> {
  const domain = `bench-${name}`;
  await engine.deploy({
    name,
    functions: {
      [`${name}-producer`]: trusted ? { module: 'producer', trusted: true, domain } : { module: 'producer' },
      [`${name}-consumer`]: trusted ? { module: 'checksum', trusted: true, domain } : { module: 'checksum' },
    },
    edges: [{ from: `${name}-producer`, to: `${name}-consumer` }],
  });
}

export function transferOf(r: InvocationReport, from: string, to: string): number {
  const p = r.steps.find((s) => s.fn === from);
  const c = r.steps.find((s) => s.fn === to);
  if (p === undefined || c === undefined) throw new Error(`no timings for ${from} → ${to}`);
  return c.inputReady - p.done;
}

/** Invoke `name` `count` times with a `bytes`-long payload; check every result. */
export async function measurePair(
  engine: Engine, name: string, bytes: number, count: number, mode: IfcMode | undefined, onSample?: () => void,
): Promise<EdgeSample[]> {
  const seed = bytes % 9973;
  const expected = workloads.checksum(workloads.produce(bytes, seed));
  const spec = workloads.producerSpec(bytes, seed);
  const samples: EdgeSample[] = [];
  const opts = mode === undefined ? {} : { modes: { '*': mode } };
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const r = await engine.invokeWithReport(name, spec, opts);
    const endToEndMs = performance.now() - t;
    const [rec] = workloads.readChecksums(r.output);
    if (rec?.hash !== expected || rec.length !== bytes) throw new Error(`${name} (${mode ?? 'selected'}): wrong checksum at ${bytes} bytes`);
    samples.push({ transferMs: transferOf(r, `${name}-producer`, `${name}-consumer`), endToEndMs });
    onSample?.();
  }
  return samples;
}

/** One `Uint8Array.prototype.set` of `bytes` between two touched buffers: the memcpy reference. */
export function measureMemcpy(bytes: number, count: number): number[] {
  const src = workloads.produce(Math.min(bytes, 1 << 20), 1);
  const a = new Uint8Array(bytes);
  for (let off = 0; off < bytes; off += src.length) a.set(src.subarray(0, Math.min(src.length, bytes - off)), off);
  const b = new Uint8Array(bytes);
  b.set(a); // touch every destination page once
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    b.set(a);
    out.push(performance.now() - t);
  }
  return out;
}

/** Executions per size: fewer for big payloads, fewer still with --quick. */
export function countFor(bytes: number, quick: boolean, override?: number): number {
  if (override !== undefined) return override;
  const mib = bytes / (1 << 20);
  const base = mib >= 64 ? 12 : mib >= 16 ? 30 : mib >= 4 ? 60 : 120;
  return quick ? Math.max(5, Math.ceil(base / 3)) : base;
}

export async function withEngine<T>(options: EngineOptions, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.create(options);
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}
