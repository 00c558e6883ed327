// cwasi public API.
export { DEFAULT_MAX_PAYLOAD_BYTES, Engine } from './engine.js';
export type { EngineOptions, EngineStats, DeployResult, PlanReport, EdgePlan, FunctionPlacement } from './engine.js';
export type { InvokeOptions, InvocationReport, EdgeReport, StepReport } from './dispatcher.js';
export type { WorkerStats } from './worker/control.js';
export type { FunctionConfig } from './coordinator.js';
export { CwasiError, ERROR_CODES, isErrorCode } from './errors.js';
export type { ErrorCode, ErrorRecord } from './errors.js';
export { IFC_MODES, isIfcMode, selectMode, embedRefusal } from './selection.js';
export type { IfcMode, Placement, Selection } from './selection.js';
export { parseWorkflow, validateWorkflowDocument, workflowSchema } from './workflow/schema.js';
export type { WorkflowDocument, FunctionDecl, EdgeDecl } from './workflow/schema.js';
export { buildGraph } from './workflow/graph.js';
export type { WorkflowGraph, GraphEdge } from './workflow/graph.js';
export { Ring } from './ring/ring.js';
export { Heap } from './memory/heap.js';
export * as workloads from './workloads.js';
export { summarize } from './stats.js';
export type { LatencySummary } from './stats.js';
