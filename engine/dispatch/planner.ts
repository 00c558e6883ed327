// The planner: from a target's graph, the placements and the channels, the
// plan an invocation follows (segments of steps that run in one task, the
// edges between them and the channel of each). No call-time state: plans are
// cached per target and per mode override until a deploy changes placements.
//
// A segment is a maximal chain of functions joined by edges whose channel
// chains steps into one task (one in-edge, one out-edge each): it runs inside
// one task, each step reading the previous step's output in place (or copied
// across once), so the handoff costs a function call. An edge whose channel
// carries live streams, from a function that writes an output stream to one
// that reads an input stream, is never chained: the two run at once.

import { CwasiError } from '../errors.js';
import type { Channel } from '../channels/channel.js';
import { createHeldChannel } from '../channels/networked.js';
import type { DeployedFunction, FunctionCoordinator } from '../coordinator.js';
import type { IfcMode, Selection } from '../selection.js';
import { checkModeOverrides, type GraphEdge, type WorkflowGraph } from '../workflow/graph.js';
import type { DispatchContext, Plan, PlannedEdge, Segment } from './types.js';
import { streamRoles } from './stream-roles.js';

export class Planner {
  private readonly plans = new Map<string, Plan>();
  private readonly heldChannels = new Map<IfcMode, Channel>();

  constructor(private readonly coordinator: FunctionCoordinator, private readonly ctx: Pick<DispatchContext, 'channel' | 'cluster'>) {}

  /** Forget cached plans (after a deploy changed placements). */
  invalidate(): void {
    this.plans.clear();
  }

  plan(graph: WorkflowGraph, modes?: Record<string, IfcMode>): Plan {
    const key = modes === undefined ? graph.name : `${graph.name}\u0000${JSON.stringify(modes)}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.buildPlan(graph, modes);
      this.plans.set(key, plan);
    }
    return plan;
  }

  /**
   * Select every edge's mode, chain steps into segments, then give each edge
   * between segments its channel. (Kept as one pass: the three steps share the
   * selections and the segment map.)
   */
  private buildPlan(graph: WorkflowGraph, modes: Record<string, IfcMode> | undefined): Plan {
    const fns = new Map<string, DeployedFunction>(graph.nodes.map((n) => [n, this.coordinator.require(n)]));
    const selections = new Map<GraphEdge, Selection>();
    checkModeOverrides(graph, modes);
    for (const e of graph.edges) {
      const own = modes?.[`${e.from}->${e.to}`] ?? e.mode;
      let sel: Selection;
      if (own === undefined && modes?.['*'] !== undefined) {
        // A blanket "*" asks for a mode on every edge; where the placement
        // cannot serve it the rules choose, and the plan says why.
        sel = this.coordinator.trySelect(e.from, e.to, modes['*']);
      } else {
        sel = this.coordinator.select(e.from, e.to, own);
      }
      if (this.ctx.channel(sel.mode) === undefined) {
        throw new CwasiError('E_CONFIG', `${e.from} → ${e.to} needs the ${sel.mode} channel, which this engine was not configured for`);
      }
      selections.set(e, sel);
    }
    // Chain nodes joined by embedded edges with one out-edge and one in-edge.
    const next = new Map<string, GraphEdge>();
    const chainedInto = new Set<string>();
    const here = this.coordinator.hostName;
    // Edges that stream live: one producer writing a stream to its only consumer, which reads one.
    const live = new Set<GraphEdge>();
    for (const e of graph.edges) {
      const from = fns.get(e.from)!;
      const to = fns.get(e.to)!;
      const carries = this.ctx.channel(selections.get(e)!.mode)!.carriesLiveStreams;
      const hosts = carries === 'on-this-host' ? from.placement.host === here && to.placement.host === here : carries === 'across-hosts' && from.placement.host !== to.placement.host;
      if (hosts
        && streamRoles(from.module).writes && streamRoles(to.module).reads
        && graph.outEdges.get(e.from)!.length === 1 && graph.inEdges.get(e.to)!.length === 1 && e.from !== graph.output) live.add(e);
    }
    for (const e of graph.edges) {
      if (live.has(e)) continue;
      const chains = this.ctx.channel(selections.get(e)!.mode)!.chainsInOneTask;
      // Some channels chain only steps of this host (the worker copies across once).
      const chainsHere = chains === 'always' || (chains === 'on-this-host' && fns.get(e.from)!.placement.host === here && fns.get(e.to)!.placement.host === here);
      if (chainsHere && graph.outEdges.get(e.from)!.length === 1 && graph.inEdges.get(e.to)!.length === 1 && e.from !== graph.output) {
        next.set(e.from, e);
        chainedInto.add(e.to);
      }
    }
    const segments: Segment[] = [];
    const segmentOf = new Map<string, Segment>();
    const chained: Plan['chained'] = [];
    for (const n of graph.order) {
      if (chainedInto.has(n)) continue;
      const steps = [n];
      let cur = n;
      while (next.has(cur)) {
        const e = next.get(cur)!;
        chained.push({ edge: e, selection: selections.get(e)! });
        cur = e.to;
        steps.push(cur);
      }
      const last = steps[steps.length - 1]!;
      const seg: Segment = {
        id: segments.length, steps, group: fns.get(n)!.group, inEdges: [], outEdges: [],
        returnsBytes: last === graph.output || graph.sinks.includes(last),
      };
      segments.push(seg);
      for (const s of steps) segmentOf.set(s, seg);
    }
    const edges: PlannedEdge[] = [];
    const self = this.coordinator.hostName;
    for (const e of graph.edges) {
      if (next.get(e.from) === e) continue;
      const sel = selections.get(e)!;
      const from = segmentOf.get(e.from)!;
      const to = segmentOf.get(e.to)!;
      let channel = this.ctx.channel(sel.mode)!;
      if (!channel.crossesHosts && from.group.host !== self) {
        // Both ends on the same other node: the output stays held there.
        if (from.group.host !== to.group.host) throw new CwasiError('E_CONFIG', `${e.from} → ${e.to}: ${sel.mode} cannot cross hosts`);
        channel = this.heldChannel(sel.mode);
      } else if (!channel.crossesHosts && to.group.host !== self) {
        throw new CwasiError('E_CONFIG', `${e.from} → ${e.to}: ${sel.mode} cannot cross hosts`);
      }
      const pe: PlannedEdge = {
        edge: e, selection: sel, from, to, slot: graph.inEdges.get(e.to)!.indexOf(e), channel, live: live.has(e),
      };
      const window = fns.get(e.from)!.config.streamWindowBytes;
      if (pe.live && window !== undefined) pe.windowBytes = window;
      pe.from.outEdges.push(pe);
      pe.to.inEdges.push(pe);
      edges.push(pe);
    }
    for (const seg of segments) seg.inEdges.sort((a, b) => a.slot - b.slot);
    return { target: graph.name, graph, segments, edges, chained };
  }

  private heldChannel(mode: IfcMode): Channel {
    let ch = this.heldChannels.get(mode);
    if (ch === undefined) {
      const cluster = this.ctx.cluster;
      if (cluster === undefined) throw new CwasiError('E_CONFIG', 'functions on other hosts need a cluster');
      this.heldChannels.set(mode, (ch = createHeldChannel(cluster.remote, mode)));
    }
    return ch;
  }
}
