/**
 * What a DestinationRule changes in a cluster, per kind of client, and which endpoints a
 * subset holds. Envoy gets load balancer, connection pool (circuit breakers), outlier
 * detection and TLS mode; proxyless gRPC gets round robin or ring hash (gRFC A42) and the
 * request limit (A32), and nothing its `limits` say it cannot honour.
 */
import { ClientKind, type ClusterPolicy, type DestinationPolicy, type Endpoint } from '@meridian/model';

/** The settings a DestinationRule gives one subset (or the whole host, `subset` '') on one port. */
export function clusterPolicyOf(dr: DestinationPolicy | undefined, subset: string, port: number): ClusterPolicy | undefined {
  if (!dr) return undefined;
  if (subset === '') return dr.portPolicies.get(port) ?? dr.policy;
  const s = dr.subsets.get(subset);
  return s && (s.portPolicies.get(port) ?? s.policy);
}

/**
 * The label that selects a cluster in a subset (Istio's): an endpoint's cluster stands for
 * it, since endpoints carry their cluster rather than that label.
 */
const CLUSTER_LABEL = 'topology.istio.io/cluster';

/** The endpoints a subset selects: every label of the subset on the endpoint's workload. */
export function subsetEndpoints(endpoints: readonly Endpoint[], labels: Readonly<Record<string, string>>): Endpoint[] {
  const wanted = Object.entries(labels);
  return endpoints.filter((e) => wanted.every(([k, v]) => (k === CLUSTER_LABEL ? e.cluster === v : e.labels?.[k] === v)));
}

/**
 * Cluster fields from a policy, to spread over the defaults (`lb_policy`, `outlier_detection`
 * and the rest are replaced where the policy sets them). TLS mode is read by the caller,
 * which owns the transport socket.
 */
export function policyClusterFields(policy: ClusterPolicy | undefined, client: ClientKind): Record<string, unknown> {
  if (!policy) return {};
  const honoured = (field: string) => !(policy.limits[client]?.omit.some((o) => o.startsWith(field)) ?? false);
  const out: Record<string, unknown> = {};
  const lb = policy.loadBalancer;
  if (lb && honoured('loadBalancer')) {
    if (lb.type === 'hash') {
      out['lb_policy'] = lb.ring === 'maglev' ? 'MAGLEV' : 'RING_HASH';
      if (lb.ring === 'ring' && lb.minimumRingSize !== undefined) out['ring_hash_lb_config'] = { minimum_ring_size: { value: lb.minimumRingSize } };
    } else if (lb.algorithm !== 'PASSTHROUGH') {
      out['lb_policy'] = lb.algorithm;
    }
  }
  const pool = policy.connectionPool;
  if (pool) {
    const thresholds = {
      ...(client === ClientKind.Envoy && pool.maxConnections !== undefined ? { max_connections: { value: pool.maxConnections } } : {}),
      ...(client === ClientKind.Envoy && pool.maxPendingRequests !== undefined ? { max_pending_requests: { value: pool.maxPendingRequests } } : {}),
      ...(pool.maxRequests !== undefined ? { max_requests: { value: pool.maxRequests } } : {}),
      ...(client === ClientKind.Envoy && pool.maxRetries !== undefined ? { max_retries: { value: pool.maxRetries } } : {}),
    };
    if (Object.keys(thresholds).length > 0) out['circuit_breakers'] = { thresholds: [thresholds] };
    if (client === ClientKind.Envoy && pool.connectTimeoutMs !== undefined) out['connect_timeout'] = duration(pool.connectTimeoutMs);
  }
  const od = policy.outlierDetection;
  if (od && client === ClientKind.Envoy) {
    out['outlier_detection'] = {
      ...(od.consecutive5xxErrors !== undefined ? { consecutive_5xx: { value: od.consecutive5xxErrors } } : {}),
      ...(od.consecutiveGatewayErrors !== undefined ? { consecutive_gateway_failure: { value: od.consecutiveGatewayErrors } } : {}),
      ...(od.intervalMs !== undefined ? { interval: duration(od.intervalMs) } : {}),
      ...(od.baseEjectionTimeMs !== undefined ? { base_ejection_time: duration(od.baseEjectionTimeMs) } : {}),
      ...(od.maxEjectionPercent !== undefined ? { max_ejection_percent: { value: od.maxEjectionPercent } } : {}),
    };
  }
  return out;
}

/**
 * Per-connection HTTP settings of a pool (Envoy only), merged into the cluster's
 * `HttpProtocolOptions` beside the protocol choice.
 */
export function commonHttpOptions(policy: ClusterPolicy | undefined): Record<string, unknown> | undefined {
  const pool = policy?.connectionPool;
  if (!pool || (pool.maxRequestsPerConnection === undefined && pool.idleTimeoutMs === undefined)) return undefined;
  return {
    ...(pool.maxRequestsPerConnection !== undefined ? { max_requests_per_connection: { value: pool.maxRequestsPerConnection } } : {}),
    ...(pool.idleTimeoutMs !== undefined ? { idle_timeout: duration(pool.idleTimeoutMs) } : {}),
  };
}

/** Milliseconds as a `google.protobuf.Duration`. */
export function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1_000_000) };
}
