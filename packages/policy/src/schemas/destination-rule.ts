/** `networking.istio.io/v1` DestinationRule, as the upstream reference documents it. */
import { z } from 'zod';
import { duration, positiveDuration, exportTo, hostName, labels, portNumber, workloadSelector } from './common.ts';

const consistentHash = z
  .strictObject({
    httpHeaderName: z.string().min(1).optional(),
    httpCookie: z.strictObject({ name: z.string().min(1), path: z.string().optional(), ttl: duration.optional() }).optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().min(1).optional(),
    ringHash: z.strictObject({ minimumRingSize: z.number().int().min(1).optional() }).optional(),
    maglev: z.strictObject({ tableSize: z.number().int().min(1).optional() }).optional(),
    minimumRingSize: z.number().int().min(1).optional(),
  })
  .superRefine((h, ctx) => {
    const keys = [h.httpHeaderName, h.httpCookie, h.useSourceIp, h.httpQueryParameterName].filter((v) => v !== undefined && v !== false).length;
    if (keys !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName is required' });
    if (h.ringHash && h.maglev) ctx.addIssue({ code: 'custom', message: 'ringHash and maglev cannot both be set' });
  });

const localityLbSetting = z
  .strictObject({
    distribute: z.array(z.strictObject({ from: z.string().min(1), to: z.record(z.string().min(1), z.number().int().min(0)) })).optional(),
    failover: z.array(z.strictObject({ from: z.string().min(1), to: z.string().min(1) })).optional(),
    failoverPriority: z.array(z.string().min(1)).optional(),
    enabled: z.boolean().optional(),
  })
  .superRefine((l, ctx) => {
    if (l.distribute?.length && l.failover?.length) ctx.addIssue({ code: 'custom', message: 'distribute and failover cannot both be set' });
    l.distribute?.forEach((d, i) => {
      const total = Object.values(d.to).reduce((a, b) => a + b, 0);
      if (total !== 100) ctx.addIssue({ code: 'custom', message: `the weights in to must add up to 100 (got ${total})`, path: ['distribute', i, 'to'] });
    });
    l.failover?.forEach((f, i) => {
      if (f.from === f.to) ctx.addIssue({ code: 'custom', message: 'from and to must be different regions', path: ['failover', i] });
    });
  });

const loadBalancer = z
  .strictObject({
    simple: z.enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']).optional(),
    consistentHash: consistentHash.optional(),
    localityLbSetting: localityLbSetting.optional(),
    warmupDurationSecs: duration.optional(),
  })
  .superRefine((lb, ctx) => {
    if (lb.simple && lb.consistentHash) ctx.addIssue({ code: 'custom', message: 'simple and consistentHash cannot both be set' });
  });

const connectionPool = z.strictObject({
  tcp: z
    .strictObject({
      maxConnections: z.number().int().min(0).optional(),
      connectTimeout: positiveDuration.optional(),
      tcpKeepalive: z.strictObject({ probes: z.number().int().min(0).optional(), time: duration.optional(), interval: positiveDuration.optional() }).optional(),
      maxConnectionDuration: duration.optional(),
      idleTimeout: positiveDuration.optional(),
    })
    .optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: z.number().int().min(0).optional(),
      http2MaxRequests: z.number().int().min(0).optional(),
      maxRequestsPerConnection: z.number().int().min(0).optional(),
      maxRetries: z.number().int().min(0).optional(),
      idleTimeout: positiveDuration.optional(),
      h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
      useClientProtocol: z.boolean().optional(),
      maxConcurrentStreams: z.number().int().min(0).optional(),
    })
    .optional(),
});

const outlierDetection = z.strictObject({
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: z.number().int().min(0).optional(),
  consecutiveGatewayErrors: z.number().int().min(0).optional(),
  consecutive5xxErrors: z.number().int().min(0).optional(),
  interval: positiveDuration.optional(),
  baseEjectionTime: positiveDuration.optional(),
  maxEjectionPercent: z.number().int().min(0).max(100).optional(),
  minHealthPercent: z.number().int().min(0).max(100).optional(),
});

const clientTls = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string().min(1)).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
});

const portSettings = {
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
};

const trafficPolicy = z.strictObject({
  ...portSettings,
  portLevelSettings: z.array(z.strictObject({ port: z.strictObject({ number: portNumber }), ...portSettings })).optional(),
  tunnel: z.strictObject({ protocol: z.string().optional(), targetHost: z.string().min(1), targetPort: portNumber }).optional(),
  proxyProtocol: z.strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(),
});

export const destinationRuleSpec = z
  .strictObject({
    host: hostName(),
    trafficPolicy: trafficPolicy.optional(),
    subsets: z
      // A DNS-1123 label, as Istio requires: it goes into the SNI an east-west gateway routes on.
      .array(z.strictObject({ name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label (lower case letters, digits and -)').max(63), labels: labels.optional(), trafficPolicy: trafficPolicy.optional() }))
      .optional(),
    exportTo: exportTo.optional(),
    workloadSelector: workloadSelector.optional(),
  })
  .superRefine((dr, ctx) => {
    const seen = new Set<string>();
    dr.subsets?.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', message: `subset ${s.name} is defined twice`, path: ['subsets', i, 'name'] });
      seen.add(s.name);
    });
    const ports = new Set<number>();
    dr.trafficPolicy?.portLevelSettings?.forEach((p, i) => {
      if (ports.has(p.port.number)) ctx.addIssue({ code: 'custom', message: `port ${p.port.number} has settings twice`, path: ['trafficPolicy', 'portLevelSettings', i, 'port'] });
      ports.add(p.port.number);
    });
  });

export type DestinationRuleSpec = z.infer<typeof destinationRuleSpec>;
