import { compileMeshPolicies, PolicyStore } from '@meridian/policy';
import { MeshResources, TypeUrl } from '@meridian/xds';
import { benchSidecar, inProcessMesh } from './support/in-process-mesh.ts';
const discovery = inProcessMesh(50);
const T = { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'mesh-default', namespace: 'meridian-system' },
  spec: { accessLogging: [{ providers: [{ name: 'json-stdout' }] }], tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 1 }] } };
const store = new PolicyStore(); store.replace('c1', [{ value: T, origin: '#0' }]);
const policies = compileMeshPolicies(store.objects(), { domainSuffix: 'cluster.local', rootNamespace: 'meridian-system', defaultMtlsMode: 'STRICT', telemetryProviders: ['json-stdout'], tracingProviders: ['otel'] }).policies;
const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], mtls: { mode: 'strict', trustDomain: 'cluster.local' }, policies: () => policies,
  accessLogProviders: [{ name: 'json-stdout', path: '/dev/stdout', format: 'json' }], tracingProviders: [{ name: 'otel', service: 'otel-collector.observability.svc.cluster.local', port: 4317 }] });
const ls = resources.generate(TypeUrl.Listener, benchSidecar(0), undefined);
for (const r of ls) console.log(r.name, r.any.length);
console.log(JSON.stringify((ls as any).map((r: any) => r.resource ?? Object.keys(r)), null, 1).slice(0, 300));
import { decodeResource } from '../../packages/xds/src/config-dump.ts';
import { writeFileSync } from 'node:fs';
writeFileSync('/tmp/lds.json', JSON.stringify(ls.map((r) => decodeResource(r)), null, 1));
