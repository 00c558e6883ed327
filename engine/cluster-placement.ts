// The Function Coordinator's placement across a cluster: where a function
// deployed with `host: "auto"` goes, and deploying the functions placed on
// other nodes there (through the cluster member's sealed deploy requests).
// Used by the Engine's deploy; the coordinator itself keeps what is placed
// where (coordinator.ts).

import { CwasiError } from './errors.js';
import type { DeployedFunction, FunctionConfig, FunctionCoordinator } from './coordinator.js';
import type { ClusterMember } from './cluster/member.js';
import type { RemoteFunctionConfig } from './cluster/protocol.js';

/** The `host` value that lets the coordinator choose the node. */
export const AUTO_HOST = 'auto';

export class ClusterPlacement {
  private autoNext = 0;

  /** `member`: the cluster membership, once the engine has joined one. */
  constructor(private readonly coordinator: FunctionCoordinator, private readonly member: () => ClusterMember | undefined) {}

  /**
   * `host: "auto"`: the coordinator places the function on a live node of the
   * cluster — trusted functions of one domain together (they share a memory),
   * the others spread round-robin over the nodes, this one included. Without a
   * cluster, "auto" is this engine.
   */
  placeAuto(configs: FunctionConfig[]): FunctionConfig[] {
    if (!configs.some((c) => c.host === AUTO_HOST)) return configs;
    const self = this.coordinator.hostName;
    const member = this.member();
    const nodes = member === undefined ? [self] : member.registry.liveNodes().map((n) => n.name).sort();
    if (nodes.length === 0) nodes.push(self);
    const byDomain = new Map<string, string>();
    return configs.map((c) => {
      if (c.host !== AUTO_HOST) return c;
      // Functions already deployed keep their place.
      const existing = this.coordinator.get(c.name);
      if (existing !== undefined) return { ...c, host: existing.placement.host };
      const domainKey = c.trusted === true ? `domain:${c.domain ?? 'default'}` : undefined;
      let host = domainKey !== undefined ? byDomain.get(domainKey) : undefined;
      if (host === undefined) {
        host = nodes[this.autoNext++ % nodes.length]!;
        if (domainKey !== undefined) byDomain.set(domainKey, host);
      }
      return { ...c, host };
    });
  }


  /** Functions placed on other nodes are deployed there too; on failure they are forgotten here. */
  async deployElsewhere(deployed: DeployedFunction[], forgetOnFailure = true): Promise<void> {
    const self = this.coordinator.hostName;
    const byHost = new Map<string, DeployedFunction[]>();
    for (const d of deployed) {
      if (d.placement.host === self) continue;
      byHost.set(d.placement.host, [...(byHost.get(d.placement.host) ?? []), d]);
    }
    if (byHost.size === 0) return;
    const member = this.member();
    if (member === undefined) {
      this.coordinator.undeploy([...byHost.values()].flat().map((d) => d.name));
      throw new CwasiError('E_CONFIG', `functions are pinned to other hosts (${[...byHost.keys()].join(', ')}) but this engine is not part of a cluster`);
    }
    const compiled = [...byHost.values()].flat().filter((d) => d.config.module instanceof WebAssembly.Module);
    if (compiled.length > 0) {
      if (forgetOnFailure) this.coordinator.undeploy([...byHost.values()].flat().map((d) => d.name));
      throw new CwasiError('E_CONFIG', `${compiled.map((d) => d.name).join(', ')}: a module given as a WebAssembly.Module cannot be sent to another node; give its bytes`);
    }
    try {
      await Promise.all([...byHost].map(([host, fns]) => member.deployRemote(host, fns.map((d): RemoteFunctionConfig => {
        const bundled = typeof d.config.module === 'string' && this.coordinator.isBundled(d.config.module) && !d.config.module.endsWith('.wasm');
        return {
          name: d.name,
          module: bundled ? (d.config.module as string) : d.name,
          ...(bundled ? {} : { moduleBase64: Buffer.from(d.bytes).toString('base64') }),
          trusted: d.placement.trusted,
          domain: d.placement.domain,
          ...(d.replicas !== undefined ? { replicas: d.replicas } : {}),
          ...(d.config.memoryMaxBytes !== undefined ? { memoryMaxBytes: d.config.memoryMaxBytes } : {}),
          ...(d.config.stackBytes !== undefined ? { stackBytes: d.config.stackBytes } : {}),
          ...(d.config.streamWindowBytes !== undefined ? { streamWindowBytes: d.config.streamWindowBytes } : {}),
        };
      }))));
    } catch (err) {
      if (forgetOnFailure) this.coordinator.undeploy([...byHost.values()].flat().map((d) => d.name));
      throw err;
    }
  }
}
