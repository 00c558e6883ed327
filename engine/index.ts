// cwasi public API: the engine, its options and reports, its errors and the
// workflow documents it runs. What works below the engine (the ring, the
// heap, the mode selection rule, the transport) is `cwasi/primitives`
// (primitives.ts); the host-side twins of the bundled functions are
// `cwasi/workloads` (workloads.ts).
export { DEFAULT_MAX_PAYLOAD_BYTES, Engine } from './engine.js';
export type { EngineOptions, EngineStats, DeployResult, PlanReport, EdgePlan, FunctionPlacement } from './engine.js';
export type { CloseOptions } from './close.js';
export type { LocalTransport } from './channels/local.js';
export type { GuestCallLimits } from './guest-calls.js';
export type { HeapStats } from './memory/heap.js';
export { RETRYABLE_CODES } from './batch/map.js';
export type { MapInput, MapOptions, MapResult, MapResultBase } from './batch/map.js';
export type { FileItem, FileInputStats } from './batch/files.js';
export type { InvokeOptions, InvocationReport, EdgeReport, StepReport } from './dispatcher.js';
export type { WorkerStats } from './worker/control.js';
export type { InstanceHeapFigures } from './worker/host.js';
export type { FunctionConfig } from './coordinator.js';
export type { ClusterOptions, ClusterStats } from './cluster/member.js';
export type { NatsAuthOptions } from './cluster/nats-auth.js';
export type { NetStats, NetTlsOptions } from './net/options.js';
export { CwasiError, ERROR_CODES, isCwasiError, isErrorCode } from './errors.js';
export type { AnyErrorDetails, CwasiErrorOf, ErrorCode, ErrorDetails, ErrorDetailsByCode, ErrorRecord, PeerDetails } from './errors.js';
export type { EdgeEvent, InvokeEvent } from './trace/channels.js';
export { IFC_MODES, isIfcMode } from './selection.js';
export type { IfcMode } from './selection.js';
export { parseWorkflow, validateWorkflowDocument, workflowSchema } from './workflow/schema.js';
export type { WorkflowDocument, FunctionDecl, EdgeDecl } from './workflow/schema.js';
export type { LatencySummary } from './stats.js';
