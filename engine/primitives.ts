// `cwasi/primitives`: the pieces the engine is built from, for tools,
// benchmarks and tests that work below it. Each byte layout is a table at the
// top of its source file. The engine's own API is `cwasi` (index.ts).

// The Local Buffer's ring and a function memory's heap.
export { Ring } from './ring/ring.js';
export type { Descriptor, FrameHeader, WaitOutcome } from './ring/ring.js';
export { Heap } from './memory/heap.js';
export type { Arena, HeapStats } from './memory/heap.js';
export { USER_STATIC_BASE } from './memory/layout.js';
export { LOCAL_STREAM_RING_BYTES } from './channels/local.js';

// The rules the coordinator and the dispatcher apply.
export { selectMode, embedRefusal } from './selection.js';
export type { Placement, Selection } from './selection.js';
export { buildGraph } from './workflow/graph.js';
export type { WorkflowGraph, GraphEdge } from './workflow/graph.js';

// Inputs and statistics.
export { listFiles } from './batch/files.js';
export { summarize } from './stats.js';

// The Networked Buffer's authenticated TCP transport.
export { NetTransport, READ_BUFFER_BYTES } from './net/transport.js';
export type {
  DirectChunks, IncomingStream, NetAddress, NetConnection, NetTransportEvents, NetTransportOptions, OutgoingStream,
} from './net/transport.js';
export type { StreamMeta } from './net/protocol.js';

// The AssemblyScript compile of `cwasi build`.
export { NO_CONFIG, ascArgs, compileWith, pinnedAscVersion, readSource } from './build/asc.js';
export type { AscOptions } from './build/asc.js';

// What `cwasi bench` hands a benchmark and takes back from it.
export type { Benchmark, BenchMeta, BenchOptions, BenchReport, BenchResult, Goal, LinkRate, Progress } from './cli/bench-report.js';
