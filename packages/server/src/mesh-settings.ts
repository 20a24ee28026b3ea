/**
 * What the config says about how the mesh is built, in the shapes the policy compiler and the
 * resource generators take: one place for `serve` and for the commands that rebuild the
 * mesh offline (`authz check`), so they cannot drift apart.
 */
import type { MeshPolicyOptions } from '@meridian/policy';
import type { MeshResourcesOptions } from '@meridian/xds';
import type { MeridianConfig } from './config.ts';

/** Meridian's namespace, where mesh-wide policies live. */
export function rootNamespace(config: MeridianConfig): string {
  return config.namespace ?? 'meridian-system';
}

export function meshPolicyOptions(config: MeridianConfig): MeshPolicyOptions {
  return {
    domainSuffix: config.domainSuffix,
    rootNamespace: rootNamespace(config),
    defaultMtlsMode: config.mtls.mode === 'strict' ? 'STRICT' : 'DISABLE',
    telemetryProviders: Object.keys(config.telemetry.providers),
    defaultAccessLogging: config.telemetry.accessLogging,
  };
}

export function meshResourceSettings(config: MeridianConfig): Omit<MeshResourcesOptions, 'discovery' | 'policies'> {
  return {
    domainSuffix: config.domainSuffix,
    clusterLocalHosts: config.clusterLocalHosts,
    mtls: { mode: config.mtls.mode, services: config.mtls.services, trustDomain: config.trustDomain },
    trustDomainAliases: config.trustDomainAliases,
    accessLogProviders: Object.entries(config.telemetry.providers).map(([name, p]) => ({ name, ...p.envoyFileAccessLog })),
  };
}

/** Which clusters' policy CRDs are read (`policy.sources`): every cluster, the primary only, or those named. */
export function policySourceFilter(config: MeridianConfig): (clusterId: string) => boolean {
  const sources = config.policy.sources;
  if (sources === 'all') return () => true;
  if (sources === 'primary') {
    const primary = (config.clusters.find((c) => c.primary) ?? config.clusters[0])?.id;
    return (id) => id === primary;
  }
  const named = new Set(sources);
  return (id) => named.has(id);
}
