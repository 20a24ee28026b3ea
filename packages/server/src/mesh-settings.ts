/**
 * What the config says about how the mesh is built, in the shapes the policy compiler and the
 * resource generators take: one place for `serve` and for the commands that rebuild the
 * mesh offline (`authz check`), so they cannot drift apart.
 */
import type { AccessLogProvider, TracingProvider } from '@meridian/model';
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
    // Access logs go to a file or to an OpenTelemetry collector's logs service.
    telemetryProviders: [...accessLogProviders(config), ...tracingProviders(config)].map((p) => p.name),
    defaultAccessLogging: config.telemetry.accessLogging,
    tracingProviders: tracingProviders(config).map((p) => p.name),
    defaultTracing: { ...(config.telemetry.tracing.provider ? { provider: config.telemetry.tracing.provider } : {}), samplingPercent: config.telemetry.tracing.randomSamplingPercentage },
  };
}

function accessLogProviders(config: MeridianConfig): AccessLogProvider[] {
  return Object.entries(config.telemetry.providers).flatMap(([name, p]) => ('envoyFileAccessLog' in p ? [{ name, ...p.envoyFileAccessLog }] : []));
}

function tracingProviders(config: MeridianConfig): TracingProvider[] {
  return Object.entries(config.telemetry.providers).flatMap(([name, p]) => ('opentelemetry' in p ? [{ name, ...p.opentelemetry }] : []));
}

export function meshResourceSettings(config: MeridianConfig): Omit<MeshResourcesOptions, 'discovery' | 'policies'> {
  return {
    domainSuffix: config.domainSuffix,
    clusterLocalHosts: config.clusterLocalHosts,
    mtls: { mode: config.mtls.mode, services: config.mtls.services, trustDomain: config.trustDomain },
    trustDomainAliases: config.trustDomainAliases,
    accessLogProviders: accessLogProviders(config),
    tracingProviders: tracingProviders(config),
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
