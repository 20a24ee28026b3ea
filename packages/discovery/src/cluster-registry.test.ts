import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { Health, silentLogger } from '@meridian/model';
import { ClusterRegistry, ClusterState, type ClusterChange } from './cluster-registry.ts';
import type { KubeEvent } from './kube-objects.ts';

const ECHO = 'echo.apps.svc.cluster.local';
const HELLO = 'hello.apps.svc.cluster.local';

function newRegistry(): { registry: ClusterRegistry; changes: ClusterChange[] } {
  const registry = new ClusterRegistry({ cluster: 'east', network: 'net-east', domainSuffix: 'cluster.local', logger: silentLogger() });
  const changes: ClusterChange[] = [];
  registry.onChange((c) => changes.push(c));
  return { registry, changes };
}

function change(kind: ClusterChange['kind'], ...hostnames: string[]): ClusterChange {
  return { cluster: 'east', kind, hostnames: new Set(hostnames) };
}

function service(name: string, ports: { name: string; port: number }[] = [{ name: 'grpc', port: 7070 }]): KubeEvent {
  const object: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { clusterIP: '10.96.0.1', ports } };
  return { type: 'upsert', kind: 'Service', object };
}

interface SliceEndpoint {
  address: string;
  node?: string;
  pod?: string;
  ready?: boolean;
}

function slice(name: string, serviceName: string, endpoints: SliceEndpoint[]): KubeEvent {
  const object: V1EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'apps', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 7070 }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: 'apps' } } : {}),
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
  };
  return { type: 'upsert', kind: 'EndpointSlice', object };
}

function node(name: string, region: string, extraLabels: Record<string, string> = {}): KubeEvent {
  const object: V1Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': `${region}-a`, ...extraLabels } },
  };
  return { type: 'upsert', kind: 'Node', object };
}

function pod(name: string, serviceAccountName: string): KubeEvent {
  const object: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec: { containers: [], serviceAccountName } };
  return { type: 'upsert', kind: 'Pod', object };
}

function deleted(event: KubeEvent): KubeEvent {
  return { ...event, type: 'delete' } as KubeEvent;
}

/** Two services on two nodes, each endpoint backed by a Pod. */
function twoServices(): KubeEvent[] {
  return [
    node('node-a', 'r1'),
    node('node-b', 'r2'),
    pod('echo-1', 'echo'),
    pod('hello-1', 'hello'),
    service('echo'),
    service('hello'),
    slice('echo-x1', 'echo', [{ address: '10.0.0.1', node: 'node-a', pod: 'echo-1' }]),
    slice('hello-x1', 'hello', [{ address: '10.0.1.1', node: 'node-b', pod: 'hello-1' }]),
  ];
}

describe('ClusterRegistry.apply', () => {
  it('turns a Service and its slice into one full change', () => {
    const { registry, changes } = newRegistry();
    registry.apply([service('echo'), slice('echo-x1', 'echo', [{ address: '10.0.0.1' }, { address: '10.0.0.2', ready: false }])]);
    assert.deepEqual(changes, [change('full', ECHO)]);
    const svc = registry.service(ECHO);
    assert.ok(svc);
    assert.equal(svc.hostname, ECHO);
    assert.deepEqual(svc.addresses, ['10.96.0.1']);
    assert.deepEqual(
      registry.endpoints(ECHO).map((e) => [e.address, e.port, e.health, e.cluster, e.network]),
      [
        ['10.0.0.1', 7070, Health.Healthy, 'east', 'net-east'],
        ['10.0.0.2', 7070, Health.Unhealthy, 'east', 'net-east'],
      ],
    );
    assert.deepEqual([...registry.clusterServices()].map((s) => s.hostname), [ECHO]);
  });

  it('reports a readiness change as an endpoints change of that service only', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    changes.length = 0;
    registry.apply([slice('echo-x1', 'echo', [{ address: '10.0.0.1', node: 'node-a', pod: 'echo-1', ready: false }])]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.equal(registry.endpoints(ECHO)[0]?.health, Health.Unhealthy);
    assert.equal(registry.endpoints(HELLO)[0]?.health, Health.Healthy);
  });

  it('recomputes the locality of services on a node whose region changes, and only those', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    assert.deepEqual(registry.endpoints(ECHO)[0]?.locality, { region: 'r1', zone: 'r1-a', subzone: '' });
    changes.length = 0;

    registry.apply([node('node-a', 'r9')]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.deepEqual(registry.endpoints(ECHO)[0]?.locality, { region: 'r9', zone: 'r9-a', subzone: '' });
    assert.deepEqual(registry.endpoints(HELLO)[0]?.locality, { region: 'r2', zone: 'r2-a', subzone: '' });

    // A label that does not change the model is no change.
    changes.length = 0;
    registry.apply([node('node-a', 'r9', { 'kubernetes.io/os': 'linux' })]);
    assert.deepEqual(changes, []);

    // Removing the node leaves the endpoint without a locality.
    registry.apply([deleted(node('node-a', 'r9'))]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.deepEqual(registry.endpoints(ECHO)[0]?.locality, { region: '', zone: '', subzone: '' });
  });

  it('reports a Pod service-account change as an endpoints change of its services', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    changes.length = 0;
    registry.apply([pod('hello-1', 'hello-v2')]);
    assert.deepEqual(changes, [change('endpoints', HELLO)]);
    assert.equal(registry.endpoints(HELLO)[0]?.serviceAccount, 'hello-v2');
    assert.equal(registry.endpoints(ECHO)[0]?.serviceAccount, 'echo');
  });

  it('picks up a Pod that arrives after its slice', () => {
    const { registry, changes } = newRegistry();
    registry.apply([service('echo'), slice('echo-x1', 'echo', [{ address: '10.0.0.1', pod: 'echo-1' }])]);
    assert.equal(registry.endpoints(ECHO)[0]?.serviceAccount, undefined);
    changes.length = 0;
    registry.apply([pod('echo-1', 'echo')]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.equal(registry.endpoints(ECHO)[0]?.serviceAccount, 'echo');
  });

  it('emits nothing when the same objects are applied again', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    assert.equal(changes.length, 1);
    changes.length = 0;
    registry.apply(twoServices());
    assert.deepEqual(changes, []);
    registry.apply([]);
    assert.deepEqual(changes, []);
  });

  it('reports a port change as a full change', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    changes.length = 0;
    registry.apply([service('echo', [{ name: 'grpc', port: 7070 }, { name: 'http', port: 8080 }])]);
    assert.deepEqual(changes, [change('full', ECHO)]);
    assert.deepEqual(registry.service(ECHO)?.ports.map((p) => p.port), [7070, 8080]);
  });

  it('reports a deleted Service as a full change, and its deleted slice as an endpoints change', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    changes.length = 0;
    registry.apply([deleted(service('echo'))]);
    assert.deepEqual(changes, [change('full', ECHO)]);
    assert.equal(registry.service(ECHO), undefined);
    assert.deepEqual([...registry.clusterServices()].map((s) => s.hostname), [HELLO]);

    changes.length = 0;
    registry.apply([deleted(slice('echo-x1', 'echo', []))]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.deepEqual(registry.endpoints(ECHO), []);
  });

  it('moves endpoints when a slice changes the service it belongs to', () => {
    const { registry, changes } = newRegistry();
    registry.apply(twoServices());
    changes.length = 0;
    registry.apply([slice('echo-x1', 'hello', [{ address: '10.0.0.1' }])]);
    assert.deepEqual(changes, [change('endpoints', ECHO, HELLO)]);
    assert.deepEqual(registry.endpoints(ECHO), []);
    assert.deepEqual(registry.endpoints(HELLO).map((e) => e.address), ['10.0.0.1', '10.0.1.1']);
  });

  it('counts objects and events in status()', () => {
    const { registry } = newRegistry();
    const before = registry.status();
    assert.equal(before.state, ClusterState.Syncing);
    assert.equal(before.lastEventAt, null);
    assert.equal(before.events, 0);

    const namespace: KubeEvent = { type: 'upsert', kind: 'Namespace', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } } };
    registry.apply([...twoServices(), namespace]);
    registry.apply([deleted(pod('hello-1', 'hello'))]);
    registry.markSynced();
    const after = registry.status();
    assert.equal(after.id, 'east');
    assert.equal(after.network, 'net-east');
    assert.equal(after.state, ClusterState.Synced);
    assert.equal(after.events, 10);
    assert.notEqual(after.lastEventAt, null);
    assert.deepEqual(after.objects, { services: 2, endpointSlices: 2, pods: 1, nodes: 2, namespaces: 1, workloadEntries: 0 });
    assert.equal(registry.namespace('apps')?.metadata?.name, 'apps');
  });
});

describe('ClusterRegistry rejected endpoints', () => {
  it('serves the valid endpoints of a slice, lists the invalid ones in status() and forgets them once fixed', () => {
    const { registry, changes } = newRegistry();
    registry.apply([service('echo'), slice('echo-x1', 'echo', [{ address: '10.0.0.1' }, { address: '999.1.1.1' }, { address: 'fd00::1' }])]);
    assert.deepEqual(registry.endpoints(ECHO).map((e) => e.address), ['10.0.0.1']);
    assert.deepEqual(registry.status().rejectedEndpoints, {
      count: 2,
      items: [
        { service: ECHO, object: 'EndpointSlice apps/echo-x1', address: '999.1.1.1', reason: 'not an IPv4 address (addressType IPv4)' },
        { service: ECHO, object: 'EndpointSlice apps/echo-x1', address: 'fd00::1', reason: 'not an IPv4 address (addressType IPv4)' },
      ],
    });

    changes.length = 0;
    registry.apply([slice('echo-x1', 'echo', [{ address: '10.0.0.1' }, { address: '10.0.0.2' }])]);
    assert.deepEqual(changes, [change('endpoints', ECHO)]);
    assert.deepEqual(registry.status().rejectedEndpoints, { count: 0, items: [] });
  });

  it('drops a WorkloadEntry whose address is not an IP', () => {
    const { registry } = newRegistry();
    const entry = (name: string, address: string): KubeEvent => ({
      type: 'upsert',
      kind: 'WorkloadEntry',
      object: { apiVersion: 'meridian.dev/v1alpha1', kind: 'WorkloadEntry', metadata: { name, namespace: 'apps' }, spec: { address, labels: { app: 'echo' } } },
    });
    const selecting: KubeEvent = {
      type: 'upsert',
      kind: 'Service',
      object: { metadata: { name: 'echo', namespace: 'apps' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'grpc', port: 7070 }] } },
    };
    registry.apply([selecting, entry('vm-1', '192.168.7.1'), entry('vm-2', 'vm-2.example')]);
    assert.deepEqual(registry.endpoints(ECHO).map((e) => e.address), ['192.168.7.1']);
    assert.deepEqual(registry.status().rejectedEndpoints.items, [
      { service: ECHO, object: 'WorkloadEntry apps/vm-2', address: 'vm-2.example', reason: 'not an IP address' },
    ]);
  });
});

describe('ClusterRegistry gateways', () => {
  it('reports a gateway change when a network-labelled Service appears, moves or goes', () => {
    const registry = new ClusterRegistry({ cluster: 'west', network: 'net-west', domainSuffix: 'cluster.local', logger: silentLogger() });
    const changes: Array<{ gateways?: boolean; kind: string }> = [];
    registry.onChange((c) => changes.push(c));
    const gateway = (ip: string): KubeEvent =>
      ({
        type: 'upsert',
        kind: 'Service',
        object: {
          metadata: { name: 'eastwest', namespace: 'istio-system', labels: { 'topology.istio.io/network': 'net-west' } },
          spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: 15443 }] },
          status: { loadBalancer: { ingress: [{ ip }] } },
        },
      });
    registry.apply([gateway('1.2.3.4')]);
    assert.deepEqual(registry.gateways().map((g) => [g.network, g.address, g.port]), [['net-west', '1.2.3.4', 15443]]);
    assert.equal(changes.filter((c) => c.gateways).length, 1);
    registry.apply([gateway('1.2.3.4')]);
    assert.equal(changes.filter((c) => c.gateways).length, 1, 'no change, no report');
    registry.apply([gateway('5.6.7.8')]);
    assert.equal(changes.filter((c) => c.gateways).length, 2);
    registry.apply([{ ...gateway('5.6.7.8'), type: 'delete' } as KubeEvent]);
    assert.equal(changes.filter((c) => c.gateways).length, 3);
    assert.deepEqual(registry.gateways(), []);
  });
});

describe('ClusterRegistry WorkloadEntry (mesh expansion)', () => {
  const svc = (selector: Record<string, string> | undefined): KubeEvent => ({
    type: 'upsert',
    kind: 'Service',
    object: { metadata: { name: 'billing', namespace: 'shop' }, spec: { ...(selector ? { selector } : {}), ports: [{ name: 'grpc', port: 80, targetPort: 8080 }, { name: 'admin', port: 90 }] } },
  });
  const vm = (labels: Record<string, string>, extra: Record<string, unknown> = {}): KubeEvent => ({
    type: 'upsert',
    kind: 'WorkloadEntry',
    object: {
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'WorkloadEntry',
      metadata: { name: 'vm-1', namespace: 'shop' },
      spec: { address: '192.168.7.1', labels, locality: 'us-east/us-east-1a/rack9', network: 'datacenter', serviceAccount: 'billing', ...extra },
    },
  });

  it('adds a workload to every Service whose selector its labels match, with its locality and network', () => {
    const registry = new ClusterRegistry({ cluster: 'c1', network: 'n1', domainSuffix: 'cluster.local', logger: silentLogger() });
    registry.apply([svc({ app: 'billing' }), vm({ app: 'billing', version: 'v2' }, { ports: { grpc: 9443 } })]);
    const eps = registry.endpoints('billing.shop.svc.cluster.local');
    assert.deepEqual(
      eps.map((e) => [e.address, e.portName, e.port, e.network, e.locality.subzone, e.serviceAccount, e.cluster]),
      [
        ['192.168.7.1', 'admin', 90, 'datacenter', 'rack9', 'billing', 'c1'],
        ['192.168.7.1', 'grpc', 9443, 'datacenter', 'rack9', 'billing', 'c1'],
      ],
    );
  });

  it('uses the targetPort when the entry names no port, and leaves when its labels stop matching', () => {
    const registry = new ClusterRegistry({ cluster: 'c1', network: 'n1', domainSuffix: 'cluster.local', logger: silentLogger() });
    const changes: ClusterChange[] = [];
    registry.onChange((c) => changes.push(c));
    registry.apply([svc({ app: 'billing' }), vm({ app: 'billing' })]);
    assert.equal(registry.endpoints('billing.shop.svc.cluster.local').find((e) => e.portName === 'grpc')?.port, 8080);
    registry.apply([vm({ app: 'other' })]);
    assert.deepEqual(registry.endpoints('billing.shop.svc.cluster.local'), []);
    assert.equal(changes.at(-1)?.kind, 'endpoints');
  });

  it("gives the workload's endpoints its labels", () => {
    const registry = new ClusterRegistry({ cluster: 'c1', network: 'n1', domainSuffix: 'cluster.local', logger: silentLogger() });
    registry.apply([svc({ app: 'billing' }), vm({ app: 'billing', version: 'v2' })]);
    assert.deepEqual(
      registry.endpoints('billing.shop.svc.cluster.local').map((e) => e.labels),
      [{ app: 'billing', version: 'v2' }, { app: 'billing', version: 'v2' }],
    );
  });

  it('ignores Services without a selector', () => {
    const registry = new ClusterRegistry({ cluster: 'c1', network: 'n1', domainSuffix: 'cluster.local', logger: silentLogger() });
    registry.apply([svc(undefined), vm({ app: 'billing' })]);
    assert.deepEqual(registry.endpoints('billing.shop.svc.cluster.local'), []);
  });
});
