// Options of the engine's API, in one place: their description (spec.ts),
// defaults (defaults.ts), checks (check.ts, kinds.ts), resolution
// (resolve.ts, cluster.ts) and the reference table (table.ts).

export { OPTION_DEFAULTS, deepFreeze, filled, type GuestCallLimits } from './defaults.js';
export { SCOPES, ENGINE_OPTIONS, MAP_OPTIONS, CLOSE_OPTIONS, NET_OPTIONS, MAX_QUEUE_LIMIT, MAX_THREADS, type OptionSpec, type ScopeName } from './spec.js';
export { checkOptions, distance } from './check.js';
export { optionError } from './kinds.js';
export {
  checkInvocationTimeout, resolveCloseLimit, resolveEngineOptions, resolveGuestCallLimits, resolveMapOptions, resolveNetOptions,
  type ResolvedEngineOptions, type ResolvedMapOptions, type ResolvedNetOptions,
} from './resolve.js';
export { listenAddress, nodeName, readSecret, resolveCluster, type ResolvedCluster } from './cluster.js';
export { optionsTable } from './table.js';
