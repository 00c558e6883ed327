// IFC selection: which channel moves a payload from a caller to a callee.
// A pure function of the two placements and an optional per-edge override, so
// that the Function Coordinator (at deploy time, to prepare channels and to
// explain `cwasi plan`) and the Request Dispatcher (at call time) agree.
//
// The rules are the CWASI paper's, in order:
//   1. an edge override forces a mode (benchmarks, comparisons), unless the
//      placement cannot serve it: `embedded` is refused unless rule 3 would
//      allow it, `local` across hosts, `networked` within one host (the
//      Networked Buffer joins two nodes);
//   2. caller and callee on different hosts            → networked
//   3. both trusted, same trust domain, same memory group → embedded
//   4. otherwise (same host)                           → local
// `remote-kv` and `copy` are baselines: never chosen unless forced.

export const IFC_MODES = ['embedded', 'local', 'networked', 'remote-kv', 'copy'] as const;
export type IfcMode = (typeof IFC_MODES)[number];

export function isIfcMode(value: unknown): value is IfcMode {
  return typeof value === 'string' && (IFC_MODES as readonly string[]).includes(value);
}

/** Where a function was placed by the coordinator. */
export interface Placement {
  name: string;
  /** Engine node that hosts the function. */
  host: string;
  trusted: boolean;
  /** Trust domain; functions only share a memory within one domain. */
  domain: string;
  /** Memory group (embedding group) id. */
  group: string;
}

export interface Selection {
  mode: IfcMode;
  reason: string;
  /** Set when an override was refused; `mode` then holds the rule-based choice. */
  refused?: string;
  /** The error code of a refusal: the trust rule (embedding) or a placement the mode cannot serve. */
  refusedCode?: 'E_EMBED_REFUSED' | 'E_MODE_REFUSED';
}

/** Can `a` and `b` share one memory? Returns why not, or undefined when they can. */
export function embedRefusal(a: Placement, b: Placement): string | undefined {
  if (!a.trusted) return `${a.name} is not trusted`;
  if (!b.trusted) return `${b.name} is not trusted`;
  if (a.domain !== b.domain) return `trust domains differ (${a.domain} vs ${b.domain})`;
  if (a.host !== b.host) return `they run on different hosts (${a.host} vs ${b.host})`;
  if (a.group !== b.group) return `they were placed in different memory groups (${a.group} vs ${b.group})`;
  return undefined;
}

export function selectMode(caller: Placement, callee: Placement, override?: IfcMode): Selection {
  const rule = ruleBased(caller, callee);
  if (override === undefined || override === rule.mode) return rule;
  if (override === 'embedded') {
    return { ...rule, refused: `embedded refused: ${embedRefusal(caller, callee)}`, refusedCode: 'E_EMBED_REFUSED' };
  }
  if (override === 'local' && caller.host !== callee.host) {
    return { ...rule, refused: 'local refused: caller and callee are on different hosts', refusedCode: 'E_MODE_REFUSED' };
  }
  if (override === 'networked' && caller.host === callee.host) {
    return { ...rule, refused: `networked refused: caller and callee are both on host ${caller.host}; the Networked Buffer joins two nodes`, refusedCode: 'E_MODE_REFUSED' };
  }
  return { mode: override, reason: `forced by edge override (rules would choose ${rule.mode})` };
}

function ruleBased(caller: Placement, callee: Placement): Selection {
  if (caller.host !== callee.host) {
    return { mode: 'networked', reason: `different hosts (${caller.host} → ${callee.host})` };
  }
  const refusal = embedRefusal(caller, callee);
  if (refusal === undefined) {
    return { mode: 'embedded', reason: `both trusted in domain "${caller.domain}" on ${caller.host}, one shared memory` };
  }
  return { mode: 'local', reason: `same host ${caller.host}, not embeddable: ${refusal}` };
}
