import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { EMPTY_LOCALITY, Health } from '@meridian/model';
import {
  convertEndpointSlice,
  convertService,
  endpointHealth,
  nodeLocality,
  type ConvertContext,
  type EndpointLookup,
} from './convert.ts';

const ctx: ConvertContext = { cluster: 'east', network: 'net-east', domainSuffix: 'cluster.local' };

function service(spec: V1Service['spec'], metadata: V1Service['metadata'] = { name: 'echo', namespace: 'apps' }): V1Service {
  return { apiVersion: 'v1', kind: 'Service', metadata, spec };
}

function node(name: string, labels?: Record<string, string>): V1Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, ...(labels ? { labels } : {}) } };
}

function pod(namespace: string, name: string, serviceAccountName?: string, labels?: Record<string, string>): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { containers: [], ...(serviceAccountName ? { serviceAccountName } : {}) },
  };
}

function lookupOf(nodes: readonly V1Node[], pods: readonly V1Pod[]): EndpointLookup {
  return {
    node: (name) => nodes.find((n) => n.metadata?.name === name),
    pod: (namespace, name) => pods.find((p) => p.metadata?.namespace === namespace && p.metadata.name === name),
  };
}

const noObjects = lookupOf([], []);

function slice(
  endpoints: V1EndpointSlice['endpoints'],
  options: { ports?: V1EndpointSlice['ports']; service?: string | null; addressType?: string; namespace?: string } = {},
): V1EndpointSlice {
  const serviceName = options.service === undefined ? 'echo' : options.service;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'echo-abc12',
      ...(options.namespace === undefined ? { namespace: 'apps' } : options.namespace ? { namespace: options.namespace } : {}),
      ...(serviceName ? { labels: { 'kubernetes.io/service-name': serviceName } } : {}),
    },
    addressType: options.addressType ?? 'IPv4',
    endpoints,
    ports: options.ports ?? [{ name: 'grpc', port: 7070 }],
  };
}

describe('convertService', () => {
  it('builds the hostname name.namespace.svc.<domain>', () => {
    const cases = [
      { metadata: { name: 'echo', namespace: 'apps' }, domain: 'cluster.local', want: 'echo.apps.svc.cluster.local' },
      { metadata: { name: 'echo', namespace: 'apps' }, domain: 'mesh.example', want: 'echo.apps.svc.mesh.example' },
      { metadata: { name: 'kubernetes' }, domain: 'cluster.local', want: 'kubernetes.default.svc.cluster.local' },
    ];
    for (const c of cases) {
      const got = convertService(service({ ports: [{ port: 80 }] }, c.metadata), { ...ctx, domainSuffix: c.domain });
      assert.ok(got, `${c.want}: converted`);
      assert.equal(got.hostname, c.want);
      assert.equal(got.name, c.metadata.name);
      assert.equal(got.namespace, c.metadata.namespace ?? 'default');
      assert.equal(got.cluster, 'east');
    }
  });

  it('keeps ports by name and number, sorted by number, TCP by default', () => {
    const got = convertService(
      service({
        ports: [
          { name: 'metrics', port: 9090 },
          { name: 'dns', port: 53, protocol: 'UDP' },
          { port: 8080 },
        ],
      }),
      ctx,
    );
    assert.ok(got);
    assert.deepEqual(got.ports, [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: '', port: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9090, protocol: 'TCP' },
    ]);
  });

  it('reads the application protocol from appProtocol, else from the port-name prefix', () => {
    const cases: { name?: string; appProtocol?: string; want: string | undefined }[] = [
      { name: 'grpc', want: 'grpc' },
      { name: 'grpc-echo', want: 'grpc' },
      { name: 'grpc-web', want: 'grpc-web' },
      { name: 'http', want: 'http' },
      { name: 'http2-api', want: 'http2' },
      { name: 'HTTP-Upper', want: 'http' },
      { name: 'tcp-db', want: 'tcp' },
      { name: 'tls-passthrough', want: 'tls' },
      { name: 'redis', want: 'redis' },
      { name: 'metrics', want: undefined },
      { name: 'httpx', want: undefined },
      { name: 'web-http', want: undefined },
      { want: undefined },
      { name: 'web', appProtocol: 'http2', want: 'http2' },
      { name: 'http-api', appProtocol: 'grpc', want: 'grpc' },
      { appProtocol: 'kubernetes.io/h2c', want: 'kubernetes.io/h2c' },
    ];
    for (const c of cases) {
      const got = convertService(
        service({ ports: [{ port: 80, ...(c.name ? { name: c.name } : {}), ...(c.appProtocol ? { appProtocol: c.appProtocol } : {}) }] }),
        ctx,
      );
      const port = got?.ports[0];
      assert.ok(port, `name=${c.name} appProtocol=${c.appProtocol}: one port`);
      assert.equal(port.appProtocol, c.want, `name=${c.name} appProtocol=${c.appProtocol}`);
      assert.equal('appProtocol' in port, c.want !== undefined, `name=${c.name}: appProtocol key only when known`);
    }
  });

  it('takes cluster IPs, leaving headless (None) services without addresses', () => {
    const cases: { spec: V1Service['spec']; want: string[] }[] = [
      { spec: { clusterIP: '10.96.0.10' }, want: ['10.96.0.10'] },
      { spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::10'] }, want: ['10.96.0.10', 'fd00::10'] },
      { spec: { clusterIP: 'None' }, want: [] },
      { spec: { clusterIP: 'None', clusterIPs: ['None'] }, want: [] },
      { spec: { clusterIP: '' }, want: [] },
      { spec: {}, want: [] },
    ];
    for (const c of cases) {
      const got = convertService(service({ ports: [{ port: 80 }], ...c.spec }), ctx);
      assert.ok(got);
      assert.deepEqual(got.addresses, c.want, JSON.stringify(c.spec));
    }
  });

  it('skips ExternalName services and services without a name', () => {
    assert.equal(convertService(service({ type: 'ExternalName', externalName: 'db.example.com' }), ctx), undefined);
    assert.equal(convertService(service({ ports: [{ port: 80 }] }, { namespace: 'apps' }), ctx), undefined);
    // Other types convert.
    for (const type of ['ClusterIP', 'NodePort', 'LoadBalancer']) {
      assert.ok(convertService(service({ type, ports: [{ port: 80 }] }), ctx), type);
    }
  });
});

describe('endpointHealth', () => {
  const cases: { conditions: Parameters<typeof endpointHealth>[0]; want: Health }[] = [
    { conditions: undefined, want: Health.Healthy },
    { conditions: {}, want: Health.Healthy },
    { conditions: { ready: true }, want: Health.Healthy },
    { conditions: { ready: true, serving: true, terminating: false }, want: Health.Healthy },
    { conditions: { ready: false }, want: Health.Unhealthy },
    { conditions: { ready: false, serving: true }, want: Health.Unhealthy },
    { conditions: { ready: false, serving: false, terminating: false }, want: Health.Unhealthy },
    { conditions: { ready: false, serving: true, terminating: true }, want: Health.Draining },
    { conditions: { ready: false, serving: false, terminating: true }, want: Health.Unhealthy },
    // `serving` unset reads as `ready`, and `ready` unset as ready.
    { conditions: { ready: false, terminating: true }, want: Health.Unhealthy },
    { conditions: { terminating: true }, want: Health.Draining },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.conditions) ?? 'undefined'} is ${c.want}`, () => {
      assert.equal(endpointHealth(c.conditions), c.want);
    });
  }
});

describe('nodeLocality', () => {
  const cases: { name: string; node: V1Node | undefined; want: ReturnType<typeof nodeLocality> }[] = [
    { name: 'no node', node: undefined, want: undefined },
    { name: 'no labels', node: node('n1'), want: undefined },
    { name: 'unrelated labels', node: node('n1', { 'kubernetes.io/os': 'linux' }), want: undefined },
    {
      name: 'region, zone and subzone',
      node: node('n1', {
        'topology.kubernetes.io/region': 'eu-west1',
        'topology.kubernetes.io/zone': 'eu-west1-b',
        'topology.istio.io/subzone': 'rack7',
      }),
      want: { region: 'eu-west1', zone: 'eu-west1-b', subzone: 'rack7' },
    },
    {
      name: 'region only',
      node: node('n1', { 'topology.kubernetes.io/region': 'us-east1' }),
      want: { region: 'us-east1', zone: '', subzone: '' },
    },
    {
      name: 'zone only',
      node: node('n1', { 'topology.kubernetes.io/zone': 'us-east1-c' }),
      want: { region: '', zone: 'us-east1-c', subzone: '' },
    },
    {
      name: 'legacy failure-domain labels are not read',
      node: node('n1', { 'failure-domain.beta.kubernetes.io/region': 'old' }),
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(nodeLocality(c.node), c.want);
    });
  }
});

describe('convertEndpointSlice', () => {
  it('emits one endpoint per address and port, tagged with cluster, network and service key', () => {
    const got = convertEndpointSlice(
      slice([{ addresses: ['10.0.0.1', '10.0.0.2'], nodeName: 'n1' }], {
        ports: [
          { name: 'grpc', port: 7070 },
          { name: 'http', port: 8080 },
          { name: 'unrestricted' },
        ],
      }),
      ctx,
      noObjects,
    );
    assert.ok(got);
    assert.equal(got.serviceKey, 'apps/echo');
    const pairs = got.endpoints.map((e) => `${e.address}:${e.port}/${e.portName}`).sort();
    assert.deepEqual(pairs, ['10.0.0.1:7070/grpc', '10.0.0.1:8080/http', '10.0.0.2:7070/grpc', '10.0.0.2:8080/http']);
    for (const e of got.endpoints) {
      assert.equal(e.cluster, 'east');
      assert.equal(e.network, 'net-east');
      assert.equal(e.health, Health.Healthy);
      assert.equal(e.nodeName, 'n1');
      assert.equal(e.serviceAccount, undefined);
      assert.equal(e.pod, undefined);
    }
  });

  it('has no endpoints when the slice has none or no ports', () => {
    const empty = convertEndpointSlice(slice(undefined), ctx, noObjects);
    assert.deepEqual(empty, { serviceKey: 'apps/echo', endpoints: [], rejected: [] });
    const noPorts = convertEndpointSlice(slice([{ addresses: ['10.0.0.1'] }], { ports: [] }), ctx, noObjects);
    assert.deepEqual(noPorts, { serviceKey: 'apps/echo', endpoints: [], rejected: [] });
  });

  it('reads the locality from the node, falling back to the endpoint zone', () => {
    const nodes = [
      node('labelled', {
        'topology.kubernetes.io/region': 'r1',
        'topology.kubernetes.io/zone': 'r1-a',
        'topology.istio.io/subzone': 's1',
      }),
      node('bare'),
    ];
    const lookup = lookupOf(nodes, []);
    const cases: { name: string; endpoint: { nodeName?: string; zone?: string }; want: unknown }[] = [
      { name: 'node labels win over the zone', endpoint: { nodeName: 'labelled', zone: 'other' }, want: { region: 'r1', zone: 'r1-a', subzone: 's1' } },
      { name: 'unknown node: zone', endpoint: { nodeName: 'missing', zone: 'z9' }, want: { region: '', zone: 'z9', subzone: '' } },
      { name: 'node without topology labels: zone', endpoint: { nodeName: 'bare', zone: 'z2' }, want: { region: '', zone: 'z2', subzone: '' } },
      { name: 'no node name: zone', endpoint: { zone: 'z3' }, want: { region: '', zone: 'z3', subzone: '' } },
      { name: 'nothing known', endpoint: {}, want: EMPTY_LOCALITY },
    ];
    for (const c of cases) {
      const got = convertEndpointSlice(slice([{ addresses: ['10.0.0.1'], ...c.endpoint }]), ctx, lookup);
      assert.equal(got?.endpoints.length, 1, c.name);
      assert.deepEqual(got.endpoints[0]?.locality, c.want, c.name);
    }
  });

  it("carries the pod's labels (what subsets and workload selectors match), none for an endpoint without a pod", () => {
    const pods = [pod('apps', 'echo-1', 'echo-sa', { app: 'echo', version: 'v2' }), pod('apps', 'echo-2', 'echo-sa')];
    const got = convertEndpointSlice(
      slice([
        { addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'echo-1' } },
        { addresses: ['10.0.0.2'], targetRef: { kind: 'Pod', name: 'echo-2' } },
        { addresses: ['10.0.0.3'] },
      ]),
      ctx,
      lookupOf([], pods),
    );
    assert.deepEqual(
      got?.endpoints.map((e) => [e.address, e.labels]),
      [
        ['10.0.0.1', { app: 'echo', version: 'v2' }],
        ['10.0.0.2', undefined],
        ['10.0.0.3', undefined],
      ],
    );
  });

  it('takes the network from the pod label, else the cluster, and the service account from the pod', () => {
    const pods = [
      pod('apps', 'echo-1', 'echo-sa', { 'topology.istio.io/network': 'net-vpc2' }),
      pod('apps', 'echo-2', 'echo-sa'),
      pod('other', 'echo-3', 'other-sa'),
    ];
    const got = convertEndpointSlice(
      slice([
        { addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'echo-1', namespace: 'apps' } },
        { addresses: ['10.0.0.2'], targetRef: { kind: 'Pod', name: 'echo-2' } },
        { addresses: ['10.0.0.3'], targetRef: { kind: 'Pod', name: 'echo-3', namespace: 'other' } },
        { addresses: ['10.0.0.4'], targetRef: { kind: 'Pod', name: 'gone', namespace: 'apps' } },
        { addresses: ['10.0.0.5'], targetRef: { kind: 'Node', name: 'echo-1' } },
      ]),
      ctx,
      lookupOf([], pods),
    );
    assert.ok(got);
    const byAddress = new Map(got.endpoints.map((e) => [e.address, e]));
    const want = [
      { address: '10.0.0.1', network: 'net-vpc2', serviceAccount: 'echo-sa', pod: 'apps/echo-1' },
      { address: '10.0.0.2', network: 'net-east', serviceAccount: 'echo-sa', pod: 'apps/echo-2' },
      { address: '10.0.0.3', network: 'net-east', serviceAccount: 'other-sa', pod: 'other/echo-3' },
      { address: '10.0.0.4', network: 'net-east', serviceAccount: undefined, pod: 'apps/gone' },
      { address: '10.0.0.5', network: 'net-east', serviceAccount: undefined, pod: undefined },
    ];
    assert.equal(got.endpoints.length, want.length);
    for (const w of want) {
      const e = byAddress.get(w.address);
      assert.ok(e, w.address);
      assert.deepEqual({ address: e.address, network: e.network, serviceAccount: e.serviceAccount, pod: e.pod }, w);
    }
  });

  it('reads health from the endpoint conditions', () => {
    const got = convertEndpointSlice(
      slice([
        { addresses: ['10.0.0.1'] },
        { addresses: ['10.0.0.2'], conditions: { ready: false } },
        { addresses: ['10.0.0.3'], conditions: { ready: false, serving: true, terminating: true } },
      ]),
      ctx,
      noObjects,
    );
    assert.deepEqual(
      got?.endpoints.map((e) => [e.address, e.health]),
      [
        ['10.0.0.1', Health.Healthy],
        ['10.0.0.2', Health.Unhealthy],
        ['10.0.0.3', Health.Draining],
      ],
    );
  });

  it('defaults the namespace and skips FQDN slices and slices without a service name', () => {
    assert.equal(convertEndpointSlice(slice([{ addresses: ['10.0.0.1'] }], { namespace: '' }), ctx, noObjects)?.serviceKey, 'default/echo');
    assert.equal(convertEndpointSlice(slice([{ addresses: ['db.example.com'] }], { addressType: 'FQDN' }), ctx, noObjects), undefined);
    assert.equal(convertEndpointSlice(slice([{ addresses: ['10.0.0.1'] }], { service: null }), ctx, noObjects), undefined);
    assert.equal(convertEndpointSlice(slice([{ addresses: ['fd00::1'] }], { addressType: 'IPv6' }), ctx, noObjects)?.endpoints.length, 1);
  });

  it('drops addresses that are not an IP of the slice type, says why, and keeps the rest', () => {
    const cases = [
      { addressType: 'IPv4', bad: ['999.1.1.1', 'not-an-ip', 'fd00::1', '10.0.0.1/24', ' 10.0.0.1'], good: ['10.0.0.1', '10.0.0.2'] },
      { addressType: 'IPv6', bad: ['10.0.0.9', 'fd00::zz', 'fd00::1%eth0x/64'], good: ['fd00::1', '::ffff:10.0.0.1'] },
    ];
    for (const c of cases) {
      const got = convertEndpointSlice(
        slice([...c.bad, ...c.good].map((address) => ({ addresses: [address] })), { addressType: c.addressType }),
        ctx,
        noObjects,
      );
      assert.ok(got, c.addressType);
      assert.deepEqual(got.endpoints.map((e) => e.address), c.good, `${c.addressType}: the valid endpoints stay`);
      assert.deepEqual(got.rejected.map((r) => r.address), c.bad, `${c.addressType}: each invalid one is reported`);
      for (const r of got.rejected) {
        assert.equal(r.slice, 'apps/echo-abc12');
        assert.match(r.reason, new RegExp(`not an ${c.addressType} address`), r.address);
      }
    }
  });
});
