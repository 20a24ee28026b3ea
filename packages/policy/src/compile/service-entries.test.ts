/** ServiceEntries compiled into the mesh's services, and what the report says of each. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { compileMeshPolicies, policyReport } from '../mesh-policies.ts';
import { PolicyStore } from '../policy-store.ts';

const docs = (text: string) => parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `se.yaml#${i + 1}` }));
const se = (name: string, spec: string, ns = 'egress') => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;

function compile(text: string) {
  const store = new PolicyStore({ primary: 'east' });
  store.replace('east', docs(text));
  const compiled = compileMeshPolicies(store.objects(), { domainSuffix: 'cluster.local', rootNamespace: 'meridian', defaultMtlsMode: 'STRICT' });
  const rows = policyReport(store.statuses(), compiled);
  return { entries: compiled.policies.serviceEntries, row: (name: string) => rows.find((r) => r.ref?.name === name) };
}

describe('ServiceEntry compilation', () => {
  it("follows the upstream reference's examples: ports, endpoints by port name, locality, labels, service accounts", () => {
    // https://istio.io/latest/docs/reference/config/networking/service-entry/ (the mongocluster example, MESH_INTERNAL, STATIC)
    const { entries, row } = compile(
      se(
        'external-svc-mongocluster',
        `  hosts: [mymongodb.somedomain]
  addresses: [192.192.192.192/24]
  ports: [{ number: 27018, name: mongodb, protocol: MONGO }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 2.2.2.2
    locality: us-east1/us-east1-b
    labels: { version: v1 }
  - address: 3.3.3.3
    ports: { mongodb: 27019 }
    serviceAccount: mongo`,
      ),
    );
    assert.equal(row('external-svc-mongocluster')?.state, 'Accepted');
    assert.equal(entries.length, 1);
    const [mongo] = entries;
    assert.deepEqual(mongo?.service.entry, { source: 'egress/external-svc-mongocluster', resolution: 'STATIC', external: false });
    assert.deepEqual(mongo?.service.ports, [{ name: 'mongodb', port: 27018, protocol: 'TCP', appProtocol: 'tcp' }]);
    assert.deepEqual(mongo?.service.addresses, { '': ['192.192.192.192/24'] });
    assert.deepEqual(mongo?.service.serviceAccounts, ['mongo']);
    assert.deepEqual(
      mongo?.endpoints.map((e) => [e.address, e.port, e.locality.region, e.locality.zone, e.labels?.['version'] ?? '']),
      [
        ['2.2.2.2', 27018, 'us-east1', 'us-east1-b', 'v1'],
        ['3.3.3.3', 27019, '', '', ''],
      ],
    );
  });

  it('DNS without endpoints resolves the host itself; NONE has no endpoints; targetPort is where endpoints listen', () => {
    const { entries, row } = compile(
      se('api', '  hosts: [api.example.com, www.example.com]\n  ports: [{ number: 443, name: https, protocol: HTTPS, targetPort: 8443 }]\n  resolution: DNS') +
        se('passthrough', '  hosts: [legacy.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: NONE'),
    );
    assert.deepEqual(
      entries.map((e) => [e.service.hostname, e.service.ports[0]?.appProtocol, e.endpoints.map((x) => `${x.address}:${x.port}`)]),
      [
        ['api.example.com', 'tls', ['api.example.com:8443']],
        ['www.example.com', 'tls', ['www.example.com:8443']],
        ['legacy.example.com', 'http', []],
      ],
    );
    assert.equal(entries[0]?.service.entry?.external, true, 'MESH_EXTERNAL is the default location');
    assert.equal(row('api')?.state, 'Accepted');
    assert.equal(row('passthrough')?.state, 'PartiallyApplied');
    assert.deepEqual(row('passthrough')?.clients['grpc']?.omit, ['spec.resolution: NONE has no endpoints for a gRPC client to call; the hosts are not sent to gRPC clients']);
  });

  it('a short host is in the entry’s namespace; exportTo becomes the namespaces that see it', () => {
    const { entries, row } = compile(se('vm', "  hosts: [billing]\n  ports: [{ number: 8080, name: http }]\n  resolution: STATIC\n  endpoints: [{ address: 10.9.0.1 }]\n  exportTo: ['.', shop]\n  location: MESH_INTERNAL", 'finance'));
    assert.equal(entries[0]?.service.hostname, 'billing.finance.svc.cluster.local');
    assert.deepEqual(entries[0]?.service.entry?.visibleIn, ['finance', 'shop']);
    assert.equal(entries[0]?.service.ports[0]?.appProtocol, 'tcp', 'no protocol declared: TCP, as upstream');
    // Nothing but an address tells such a host apart on a TCP port: reported, not half-applied silently.
    assert.equal(row('vm')?.state, 'PartiallyApplied');
    assert.match(row('vm')?.messages[0] ?? '', /^spec\.ports\[0\]: TCP port 8080 without addresses: no address picks the host/);
  });

  it('reports what it cannot apply, per field: a host defined twice, wildcards, UDP, weights; a workloadSelector is kept for the snapshot', () => {
    const { entries, row } = compile(
      se('a-first', '  hosts: [shared.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: DNS') +
        se('b-second', '  hosts: [shared.example.com, "*.wild.example.com", own.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 53, name: dns, protocol: UDP }]\n  resolution: DNS\n  endpoints: [{ address: one.example.com, weight: 3 }, { address: two.example.com }]') +
        se('selector', '  hosts: [vm.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: STATIC\n  workloadSelector: { labels: { app: vm } }'),
    );
    assert.deepEqual(entries.map((e) => e.service.hostname), ['shared.example.com', 'own.example.com', 'vm.example.com']);
    assert.equal(row('b-second')?.state, 'PartiallyApplied');
    assert.deepEqual(row('b-second')?.messages, [
      'spec.ports[1].protocol: UDP is not proxied: the port is not applied',
      'spec.endpoints[0].weight: endpoint weights are not applied: every endpoint of a locality weighs the same',
      'spec.hosts[0]: host shared.example.com is already defined by ServiceEntry egress/a-first; this definition is not applied',
      'spec.hosts[1]: wildcard host *.wild.example.com is not applied yet',
    ]);
    assert.deepEqual(row('b-second')?.clients['grpc']?.omit, ['spec.endpoints: a gRPC client resolves one DNS name per cluster; the hosts are not sent to gRPC clients']);
    // Its endpoints are found in the registry by the push snapshot.
    assert.equal(row('selector')?.state, 'Accepted');
    const selecting = entries.find((e) => e.service.hostname === 'vm.example.com');
    assert.deepEqual(selecting?.endpoints, []);
    assert.deepEqual(selecting?.workloadSelector?.labels, { app: 'vm' });
  });
});
