/** A DestinationRule compiled into the shared model. */
import type { ClusterPolicy, ConnectionPoolRule, DestinationPolicy, LoadBalancerRule, OutlierDetectionRule, Subset } from '@meridian/model';
import type { PolicyObjectOf } from '../policy-object.ts';
import type { DestinationRuleSpec } from '../schemas/destination-rule.ts';
import { clusterPolicyLimits } from './client-limits.ts';
import { resolveHost } from './hosts.ts';
import { defined, optionalMs } from './virtual-service-routes.ts';

type TrafficPolicy = NonNullable<DestinationRuleSpec['trafficPolicy']>;
type PortSettings = Omit<TrafficPolicy, 'portLevelSettings' | 'tunnel' | 'proxyProtocol'>;

/**
 * The hostnames some versions of a DestinationRule name, what a change between them can
 * reach; undefined when one names a wildcard (any host may be affected).
 */
export function destinationRuleHosts(versions: ReadonlyArray<PolicyObjectOf<'DestinationRule'> | undefined>, domainSuffix: string): string[] | undefined {
  const hosts = new Set<string>();
  for (const v of versions) {
    if (!v) continue;
    const host = resolveHost(v.spec.host, v.namespace, domainSuffix);
    if (host.includes('*')) return undefined;
    hosts.add(host);
  }
  return [...hosts];
}

export function compileDestinationRule(dr: PolicyObjectOf<'DestinationRule'>, domainSuffix: string): DestinationPolicy {
  const { spec } = dr;
  const subsets = new Map<string, Subset>(
    (spec.subsets ?? []).map((s) => {
      // A subset's policy is the rule's, overridden field by field by its own.
      const merged = { ...spec.trafficPolicy, ...s.trafficPolicy };
      return [s.name, { name: s.name, labels: s.labels ?? {}, policy: clusterPolicy(merged), portPolicies: portPolicies(merged) }];
    }),
  );
  return {
    host: resolveHost(spec.host, dr.namespace, domainSuffix),
    source: { kind: dr.kind, namespace: dr.namespace, name: dr.name, path: 'spec' },
    policy: clusterPolicy(spec.trafficPolicy ?? {}),
    portPolicies: portPolicies(spec.trafficPolicy ?? {}),
    subsets,
  };
}

function portPolicies(tp: TrafficPolicy): Map<number, ClusterPolicy> {
  // Port-level settings replace the rule's settings of the same field for that port.
  return new Map((tp.portLevelSettings ?? []).map((p) => [p.port.number, clusterPolicy({ ...withoutPorts(tp), ...stripPort(p) })]));
}

function withoutPorts(tp: TrafficPolicy): PortSettings {
  const { portLevelSettings: _ports, tunnel: _tunnel, proxyProtocol: _proxy, ...rest } = tp;
  return rest;
}

function stripPort(p: NonNullable<TrafficPolicy['portLevelSettings']>[number]): PortSettings {
  const { port: _port, ...rest } = p;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as PortSettings;
}

export function clusterPolicy(tp: PortSettings): ClusterPolicy {
  const policy = clusterPolicyBody(tp);
  return { ...policy, limits: clusterPolicyLimits(policy) };
}

function clusterPolicyBody(tp: PortSettings): Omit<ClusterPolicy, 'limits'> {
  const lb = tp.loadBalancer;
  const locality = lb?.localityLbSetting;
  return {
    ...(lb ? defined('loadBalancer', loadBalancer(lb)) : {}),
    ...(locality
      ? {
          locality: {
            enabled: locality.enabled ?? true,
            failover: locality.failover ?? [],
            failoverPriority: locality.failoverPriority ?? [],
            distribute: locality.distribute ?? [],
          },
        }
      : {}),
    ...(tp.connectionPool ? { connectionPool: connectionPool(tp.connectionPool) } : {}),
    ...(tp.outlierDetection ? { outlierDetection: outlierDetection(tp.outlierDetection) } : {}),
    ...(tp.tls ? { tlsMode: tp.tls.mode } : {}),
  };
}

function loadBalancer(lb: NonNullable<PortSettings['loadBalancer']>): LoadBalancerRule | undefined {
  const hash = lb.consistentHash;
  if (hash) {
    const key = hash.httpHeaderName
      ? { header: hash.httpHeaderName.toLowerCase() }
      : hash.httpCookie
        ? { cookie: hash.httpCookie.name, ...optionalMs('ttlMs', hash.httpCookie.ttl), ...defined('path', hash.httpCookie.path) }
        : hash.httpQueryParameterName
          ? { queryParameter: hash.httpQueryParameterName }
          : { sourceIp: true as const };
    const minimumRingSize = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize;
    return { type: 'hash', key, ring: hash.maglev ? 'maglev' : 'ring', ...defined('minimumRingSize', minimumRingSize) };
  }
  const simple = lb.simple;
  if (!simple || simple === 'UNSPECIFIED') return undefined;
  // LEAST_CONN is upstream's deprecated name for LEAST_REQUEST.
  return { type: 'simple', algorithm: simple === 'LEAST_CONN' ? 'LEAST_REQUEST' : simple };
}

function connectionPool(pool: NonNullable<PortSettings['connectionPool']>): ConnectionPoolRule {
  const { tcp, http } = pool;
  return {
    ...defined('maxConnections', tcp?.maxConnections),
    ...optionalMs('connectTimeoutMs', tcp?.connectTimeout),
    ...defined('maxPendingRequests', http?.http1MaxPendingRequests),
    ...defined('maxRequests', http?.http2MaxRequests),
    ...defined('maxRequestsPerConnection', http?.maxRequestsPerConnection),
    ...defined('maxRetries', http?.maxRetries),
    ...optionalMs('idleTimeoutMs', http?.idleTimeout ?? tcp?.idleTimeout),
  };
}

function outlierDetection(o: NonNullable<PortSettings['outlierDetection']>): OutlierDetectionRule {
  return {
    ...defined('consecutive5xxErrors', o.consecutive5xxErrors),
    ...defined('consecutiveGatewayErrors', o.consecutiveGatewayErrors),
    ...optionalMs('intervalMs', o.interval),
    ...optionalMs('baseEjectionTimeMs', o.baseEjectionTime),
    ...defined('maxEjectionPercent', o.maxEjectionPercent),
    ...defined('minHealthPercent', o.minHealthPercent),
  };
}
