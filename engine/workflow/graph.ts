// The workflow graph: functions are nodes, edges carry payloads. Any DAG is
// allowed: sequential chains, fan-out (one node, many out-edges), fan-in (many
// in-edges; the consumer gets one input per in-edge, in declaration order).

import { CwasiError } from '../errors.js';
import { IFC_MODES, isIfcMode, type IfcMode } from '../selection.js';
import type { WorkflowDocument } from './schema.js';

export interface GraphEdge {
  index: number;
  from: string;
  to: string;
  mode: IfcMode | undefined;
}

export interface WorkflowGraph {
  name: string;
  nodes: string[];
  edges: GraphEdge[];
  /** Edges into each node, in declaration order (that is the consumer's input order). */
  inEdges: Map<string, GraphEdge[]>;
  outEdges: Map<string, GraphEdge[]>;
  /** Nodes without in-edges: they receive the workflow input. */
  entries: string[];
  /** Nodes without out-edges. */
  sinks: string[];
  /** The node whose output is the result. */
  output: string;
  /** Nodes in an order where every edge goes forward. */
  order: string[];
}

function invalid(doc: WorkflowDocument, message: string): CwasiError {
  return new CwasiError('E_WORKFLOW_INVALID', `workflow "${doc.name}": ${message}`);
}

export function buildGraph(doc: WorkflowDocument): WorkflowGraph {
  const nodes = Object.keys(doc.functions);
  const known = new Set(nodes);
  const inEdges = new Map<string, GraphEdge[]>(nodes.map((n) => [n, []]));
  const outEdges = new Map<string, GraphEdge[]>(nodes.map((n) => [n, []]));
  const seen = new Set<string>();
  const edges: GraphEdge[] = (doc.edges ?? []).map((e, index) => {
    if (!known.has(e.from)) throw invalid(doc, `/edges/${index}/from names "${e.from}", which is not declared in /functions`);
    if (!known.has(e.to)) throw invalid(doc, `/edges/${index}/to names "${e.to}", which is not declared in /functions`);
    if (e.from === e.to) throw invalid(doc, `/edges/${index} connects "${e.from}" to itself`);
    const key = `${e.from}\u0000${e.to}`;
    if (seen.has(key)) throw invalid(doc, `/edges/${index} repeats the edge ${e.from} → ${e.to}`);
    seen.add(key);
    const edge: GraphEdge = { index, from: e.from, to: e.to, mode: e.mode };
    outEdges.get(e.from)!.push(edge);
    inEdges.get(e.to)!.push(edge);
    return edge;
  });

  // Kahn's algorithm; whatever is left over sits on a cycle.
  const indegree = new Map(nodes.map((n) => [n, inEdges.get(n)!.length]));
  const queue = nodes.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (queue.length > 0) {
    const n = queue.shift()!;
    order.push(n);
    for (const e of outEdges.get(n)!) {
      const d = indegree.get(e.to)! - 1;
      indegree.set(e.to, d);
      if (d === 0) queue.push(e.to);
    }
  }
  if (order.length !== nodes.length) {
    const cyclic = nodes.filter((n) => !order.includes(n));
    throw invalid(doc, `the edges form a cycle through ${cyclic.join(', ')}`);
  }
  const entries = nodes.filter((n) => inEdges.get(n)!.length === 0);
  const sinks = nodes.filter((n) => outEdges.get(n)!.length === 0);
  let output = doc.output;
  if (output === undefined) {
    if (sinks.length !== 1) {
      throw invalid(doc, `it has ${sinks.length} sinks (${sinks.join(', ')}); name the result with /output`);
    }
    output = sinks[0]!;
  } else if (!known.has(output)) {
    throw invalid(doc, `/output names "${output}", which is not declared in /functions`);
  }
  return { name: doc.name, nodes, edges, inEdges, outEdges, entries, sinks, output, order };
}

/**
 * Per-invocation mode overrides must name edges of the target: a typo would
 * otherwise be ignored silently and the run measured in the wrong mode.
 */
export function checkModeOverrides(graph: WorkflowGraph, modes: Record<string, IfcMode> | undefined): void {
  if (modes === undefined) return;
  const edges = new Set(graph.edges.map((e) => `${e.from}->${e.to}`));
  for (const [key, mode] of Object.entries(modes)) {
    if (!isIfcMode(mode)) throw new CwasiError('E_CONFIG', `modes["${key}"]: ${JSON.stringify(mode)} is not one of ${IFC_MODES.join(', ')}`);
    if (key === '*' || edges.has(key)) continue;
    const known = edges.size === 0 ? 'it has no edges' : `its edges: ${[...edges].join(', ')}`;
    throw new CwasiError('E_MODE_REFUSED', `modes names "${key}", which is not an edge of "${graph.name}" (${known}; use from->to or *)`, { edge: key, mode });
  }
}
