// Which invocations go through a worker's call lane (engine/lane/) rather
// than a pool task: a lean call (invoke(), map(), no report) of one function
// on this node, with bytes no longer than directInputBytes as input, no
// traceparent, no forced modes, when nobody traces; the function (or every
// step of a chain the planner put into one task, such as an embedded
// pipeline) has no `replicas` bound and makes no guest calls (a lane call
// must never wait on another call: the worker serving the lane would be the
// one blocked). Everything else, and every call no lane has room for, takes
// the pool path unchanged.

import type { FunctionCoordinator } from '../coordinator.js';
import type { LaneTarget } from '../lane/lanes.js';
import type { WorkflowGraph } from '../workflow/graph.js';
import type { InvokeOptions, Plan } from './types.js';

/** Whether a module imports the guest-call host functions (cached per compiled module). */
const callsOut = new WeakMap<WebAssembly.Module, boolean>();

function makesGuestCalls(module: WebAssembly.Module): boolean {
  let yes = callsOut.get(module);
  if (yes === undefined) {
    yes = WebAssembly.Module.imports(module).some((i) => i.module === 'cwasi' && i.name.startsWith('call_'));
    callsOut.set(module, yes);
  }
  return yes;
}

/** The lane target of a plan, or null when its invocations take the pool path. */
export function laneTargetOf(coordinator: FunctionCoordinator, plan: Plan, graph: WorkflowGraph, maxPayloadBytes: number): LaneTarget | null {
  if (plan.segments.length !== 1 || plan.edges.length !== 0) return null;
  const seg = plan.segments[0]!;
  if (seg.group.host !== coordinator.hostName || plan.chained.length !== seg.steps.length - 1) return null;
  const steps = [];
  for (const name of seg.steps) {
    const fn = coordinator.get(name);
    if (fn === undefined || fn.replicas !== undefined || makesGuestCalls(fn.module) || fn.group.host !== coordinator.hostName) return null;
    steps.push({ fn: fn.name, group: fn.group, generation: fn.group.generation });
  }
  const [first, ...chain] = steps;
  const t: LaneTarget = {
    name: plan.target, graph, fn: first!.fn, group: first!.group, generation: first!.generation, maxPayloadBytes,
    key: steps.map((s) => `${s.fn}@${s.group.id}#${s.generation}`).join(' > '),
  };
  if (chain.length > 0) t.chain = chain;
  return t;
}

/** Options that leave a call eligible for the lane (nothing that needs a task's machinery). */
export function laneOptions(opts: InvokeOptions | undefined): boolean {
  return opts === undefined || (opts.traceparent === undefined && opts.modes === undefined && opts.guestCallMode === undefined);
}
