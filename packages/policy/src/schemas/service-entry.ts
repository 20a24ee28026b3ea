/** `networking.istio.io/v1` ServiceEntry and Sidecar, as the upstream reference documents them. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { exportTo, hostName, ipOrCidr, labels, networkingWorkloadSelector, portNumber } from './common.ts';

const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP', 'REDIS', 'MYSQL'] as const;
const protocol = z.string().refine((p) => (PROTOCOLS as readonly string[]).includes(p.toUpperCase()), `one of ${PROTOCOLS.join(', ')}`);

const servicePort = z.strictObject({
  number: portNumber,
  protocol: protocol.optional(),
  name: z.string().min(1),
  targetPort: portNumber.optional(),
});

const workloadEntry = z.strictObject({
  address: z.string().min(1).optional(),
  ports: z.record(z.string().min(1), portNumber).optional(),
  labels: labels.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: z.number().int().min(0).optional(),
  serviceAccount: z.string().optional(),
});

export const serviceEntrySpec = z
  .strictObject({
    hosts: z.array(hostName()).min(1, 'at least one host is required'),
    addresses: z.array(ipOrCidr).optional(),
    ports: z.array(servicePort).optional(),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']).optional(),
    endpoints: z.array(workloadEntry).optional(),
    workloadSelector: networkingWorkloadSelector.optional(),
    exportTo: exportTo.optional(),
    subjectAltNames: z.array(z.string().min(1)).optional(),
  })
  .superRefine((se, ctx) => {
    if (se.endpoints?.length && se.workloadSelector) ctx.addIssue({ code: 'custom', message: 'endpoints and workloadSelector cannot both be set', path: ['workloadSelector'] });
    const names = new Set<string>();
    const numbers = new Set<number>();
    se.ports?.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', message: `port name ${p.name} is used twice`, path: ['ports', i, 'name'] });
      if (numbers.has(p.number)) ctx.addIssue({ code: 'custom', message: `port ${p.number} is listed twice`, path: ['ports', i, 'number'] });
      names.add(p.name);
      numbers.add(p.number);
    });
    const resolution = se.resolution ?? 'NONE';
    if (resolution === 'STATIC' && !se.endpoints?.length && !se.workloadSelector) {
      ctx.addIssue({ code: 'custom', message: 'resolution STATIC needs endpoints or a workloadSelector', path: ['endpoints'] });
    }
    se.endpoints?.forEach((e, i) => {
      const address = e.address ?? '';
      if (resolution === 'STATIC' && !isIP(address) && !address.startsWith('unix://')) {
        ctx.addIssue({ code: 'custom', message: `resolution STATIC needs an IP address (or unix://), got ${JSON.stringify(address)}`, path: ['endpoints', i, 'address'] });
      }
      for (const name of Object.keys(e.ports ?? {})) {
        if (!names.has(name)) ctx.addIssue({ code: 'custom', message: `port ${name} is not one of the entry's ports`, path: ['endpoints', i, 'ports', name] });
      }
    });
    if (resolution.startsWith('DNS')) {
      se.hosts.forEach((h, i) => {
        if (h.startsWith('*') && !se.endpoints?.length) ctx.addIssue({ code: 'custom', message: 'a wildcard host cannot be resolved by DNS without endpoints', path: ['hosts', i] });
      });
    }
  });

/** `namespace/host` as a Sidecar's egress names what a proxy may see. */
const egressHost = z.string().superRefine((text, ctx) => {
  const slash = text.indexOf('/');
  const ns = text.slice(0, slash);
  const host = text.slice(slash + 1);
  if (slash < 0 || !/^(\*|\.|~|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.test(ns) || (host !== '*' && !/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(host))) {
    ctx.addIssue({ code: 'custom', message: `expected namespace/host (e.g. ./*, istio-system/*, */foo.example.com), got ${JSON.stringify(text)}` });
  }
});

const sidecarPort = z.strictObject({ number: portNumber, protocol: protocol.optional(), name: z.string().optional(), targetPort: portNumber.optional() });
const captureMode = z.enum(['DEFAULT', 'IPTABLES', 'NONE']);

export const sidecarSpec = z.strictObject({
  workloadSelector: networkingWorkloadSelector.optional(),
  ingress: z
    .array(
      z.strictObject({
        port: sidecarPort,
        bind: z.string().optional(),
        captureMode: captureMode.optional(),
        defaultEndpoint: z.string().optional(),
      }),
    )
    .optional(),
  egress: z
    .array(z.strictObject({ port: sidecarPort.optional(), bind: z.string().optional(), captureMode: captureMode.optional(), hosts: z.array(egressHost).min(1, 'at least one host is required') }))
    .optional(),
  outboundTrafficPolicy: z.strictObject({ mode: z.enum(['REGISTRY_ONLY', 'ALLOW_ANY']).optional() }).optional(),
});

export type ServiceEntrySpec = z.infer<typeof serviceEntrySpec>;
export type SidecarSpec = z.infer<typeof sidecarSpec>;
