import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { ConfigKind, silentLogger, type PushRequest, type XdsUpdater } from '@meridian/model';
import { AggregateRegistry, findConflicts } from './aggregate.ts';
import { ClusterRegistry } from './cluster-registry.ts';
import type { KubeEvent } from './kube-objects.ts';

const ECHO = 'echo.apps.svc.cluster.local';
const HELLO = 'hello.apps.svc.cluster.local';

/**
 * A recording fake of the XdsUpdater port (Istio's xdsfake.Updater idea): it keeps every
 * request, and a test takes what arrived since the last look.
 */
class RecordingUpdater implements XdsUpdater {
  private readonly requests_: PushRequest[] = [];

  configUpdate(request: PushRequest): void {
    this.requests_.push(request);
  }

  /** Everything received since the last call, as it came. */
  requests(): PushRequest[] {
    return this.requests_.splice(0);
  }

  /** Everything received since the last call, as `{kind, hostnames}` with the keys' hostnames sorted. */
  take(): { kind: PushRequest['kind']; hostnames: string[]; reasons: readonly string[] }[] {
    return this.requests_.splice(0).map((r) => ({ kind: r.kind, hostnames: r.configs.map((k) => k.name).sort(), reasons: r.reasons }));
  }
}

function cluster(id: string): ClusterRegistry {
  return new ClusterRegistry({ cluster: id, network: `net-${id}`, domainSuffix: 'cluster.local', logger: silentLogger() });
}

type Port = { name: string; port: number; appProtocol?: string };

function service(name: string, ports: Port[] = [{ name: 'grpc', port: 7070 }], clusterIP = '10.96.0.1'): KubeEvent {
  const object: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { clusterIP, ports } };
  return { type: 'upsert', kind: 'Service', object };
}

function slice(serviceName: string, endpoints: { address: string; pod?: string; ready?: boolean }[], sliceName = `${serviceName}-x1`): KubeEvent {
  const object: V1EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: 'apps', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 7070 }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: 'apps' } } : {}),
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
  };
  return { type: 'upsert', kind: 'EndpointSlice', object };
}

function pod(name: string, serviceAccountName: string): KubeEvent {
  const object: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec: { containers: [], serviceAccountName } };
  return { type: 'upsert', kind: 'Pod', object };
}

function setup(...ids: string[]): { aggregate: AggregateRegistry; updater: RecordingUpdater; clusters: Map<string, ClusterRegistry> } {
  const updater = new RecordingUpdater();
  const aggregate = new AggregateRegistry({ logger: silentLogger(), updater });
  const clusters = new Map(ids.map((id) => [id, cluster(id)]));
  for (const c of clusters.values()) aggregate.addCluster(c);
  return { aggregate, updater, clusters };
}

function get(clusters: Map<string, ClusterRegistry>, id: string): ClusterRegistry {
  const c = clusters.get(id);
  assert.ok(c, `cluster ${id}`);
  return c;
}

describe('AggregateRegistry', () => {
  it('merges one name.namespace across clusters, endpoints keeping their cluster, sorted by cluster id', () => {
    // Added out of order: the merge must not depend on the order clusters were added.
    const { aggregate, clusters } = setup('west', 'north', 'east');
    get(clusters, 'west').apply([service('echo', undefined, '10.96.1.1'), slice('echo', [{ address: '10.1.0.2' }, { address: '10.1.0.1' }])]);
    get(clusters, 'east').apply([service('echo', undefined, '10.96.0.1'), slice('echo', [{ address: '10.0.0.9' }])]);
    get(clusters, 'north').apply([service('other')]);

    assert.deepEqual(aggregate.clusterIds(), ['east', 'north', 'west']);
    assert.deepEqual(aggregate.services().map((s) => s.hostname), [ECHO, 'other.apps.svc.cluster.local']);
    const echo = aggregate.service(ECHO);
    assert.ok(echo);
    assert.deepEqual(echo.clusters, ['east', 'west']);
    assert.deepEqual(echo.addresses, { east: ['10.96.0.1'], west: ['10.96.1.1'] });
    assert.deepEqual(
      aggregate.endpoints(ECHO).map((e) => [e.cluster, e.network, e.address]),
      [
        ['east', 'net-east', '10.0.0.9'],
        ['west', 'net-west', '10.1.0.1'],
        ['west', 'net-west', '10.1.0.2'],
      ],
    );
  });

  it('unions ports by number; on a conflict the first cluster in id order wins', () => {
    const { aggregate, clusters } = setup('west', 'east');
    get(clusters, 'west').apply([service('echo', [{ name: 'web', port: 80, appProtocol: 'http2' }, { name: 'admin', port: 9901 }])]);
    get(clusters, 'east').apply([service('echo', [{ name: 'http', port: 80 }, { name: 'grpc', port: 7070 }])]);
    assert.deepEqual(aggregate.service(ECHO)?.ports, [
      { name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' },
      { name: 'grpc', port: 7070, protocol: 'TCP', appProtocol: 'grpc' },
      { name: 'admin', port: 9901, protocol: 'TCP' },
    ]);
  });

  it('unions service accounts across clusters, and follows their changes', () => {
    const { aggregate, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([pod('echo-1', 'echo-b'), service('echo'), slice('echo', [{ address: '10.0.0.1', pod: 'echo-1' }])]);
    get(clusters, 'west').apply([
      pod('echo-1', 'echo-a'),
      pod('echo-2', 'echo-b'),
      service('echo'),
      slice('echo', [{ address: '10.1.0.1', pod: 'echo-1' }, { address: '10.1.0.2', pod: 'echo-2' }]),
    ]);
    assert.deepEqual(aggregate.service(ECHO)?.serviceAccounts, ['echo-a', 'echo-b']);
    assert.deepEqual(aggregate.services()[0]?.serviceAccounts, ['echo-a', 'echo-b']);

    // A service-account change is an endpoints-only change in the cluster; both views follow it.
    get(clusters, 'east').apply([pod('echo-1', 'echo-c')]);
    assert.deepEqual(aggregate.service(ECHO)?.serviceAccounts, ['echo-a', 'echo-b', 'echo-c']);
    assert.deepEqual(aggregate.services()[0]?.serviceAccounts, ['echo-a', 'echo-b', 'echo-c']);
  });

  it('keeps a service that only one cluster has to that cluster', () => {
    const { aggregate, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([service('echo'), slice('echo', [{ address: '10.0.0.1' }])]);
    get(clusters, 'west').apply([service('hello'), slice('hello', [{ address: '10.1.0.1' }])]);
    assert.deepEqual(aggregate.service(HELLO)?.clusters, ['west']);
    assert.deepEqual(aggregate.endpoints(HELLO).map((e) => e.cluster), ['west']);
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.cluster), ['east']);
    assert.equal(aggregate.service('missing.apps.svc.cluster.local'), undefined);
    assert.deepEqual(aggregate.endpoints('missing.apps.svc.cluster.local'), []);
  });

  it('forwards cluster changes to the updater with their kind and hostnames', () => {
    const { updater, clusters } = setup('east', 'west');
    assert.deepEqual(updater.take(), [], 'empty clusters: nothing to push');

    get(clusters, 'east').apply([service('echo'), service('hello'), slice('echo', [{ address: '10.0.0.1' }])]);
    assert.deepEqual(updater.take(), [{ kind: 'full', hostnames: [ECHO, HELLO], reasons: ['services@east'] }]);

    get(clusters, 'west').apply([service('echo')]);
    assert.deepEqual(updater.take(), [{ kind: 'full', hostnames: [ECHO], reasons: ['services@west'] }]);

    get(clusters, 'east').apply([slice('echo', [{ address: '10.0.0.1', ready: false }])]);
    assert.deepEqual(updater.take(), [{ kind: 'endpoints', hostnames: [ECHO], reasons: ['endpoints@east'] }]);

    get(clusters, 'east').apply([slice('echo', [{ address: '10.0.0.1', ready: false }])]);
    assert.deepEqual(updater.take(), [], 'no change, no push');
  });

  it('adding a cluster that already has services pushes its hostnames', () => {
    const { aggregate, updater } = setup('east');
    const west = cluster('west');
    west.apply([service('echo'), slice('echo', [{ address: '10.1.0.1' }])]);
    assert.deepEqual(aggregate.endpoints(ECHO), [], 'not yet added');
    aggregate.addCluster(west);
    assert.deepEqual(updater.take(), [{ kind: 'full', hostnames: [ECHO], reasons: ['services@west'] }]);
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.address), ['10.1.0.1']);
    assert.throws(() => aggregate.addCluster(cluster('west')), /already registered/);
  });

  it('removing a cluster removes its endpoints and pushes its hostnames in full', () => {
    const { aggregate, updater, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([service('echo'), slice('echo', [{ address: '10.0.0.1' }])]);
    get(clusters, 'west').apply([service('echo'), service('hello'), slice('echo', [{ address: '10.1.0.1' }]), slice('hello', [{ address: '10.1.1.1' }])]);
    assert.equal(aggregate.endpoints(ECHO).length, 2);
    assert.equal(aggregate.services().length, 2);
    updater.take();

    aggregate.removeCluster('west');
    assert.deepEqual(updater.take(), [{ kind: 'full', hostnames: [ECHO, HELLO], reasons: ['services@west'] }]);
    assert.deepEqual(aggregate.clusterIds(), ['east']);
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.cluster), ['east']);
    assert.deepEqual(aggregate.service(ECHO)?.clusters, ['east']);
    assert.deepEqual(aggregate.endpoints(HELLO), []);
    assert.deepEqual(aggregate.services().map((s) => s.hostname), [ECHO]);
    assert.deepEqual(aggregate.clusterStatuses().map((s) => s.id), ['east']);

    // The removed registry is no longer listened to.
    get(clusters, 'west').apply([slice('echo', [{ address: '10.1.0.9' }])]);
    assert.deepEqual(updater.take(), []);
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.address), ['10.0.0.1']);

    aggregate.removeCluster('west');
    assert.deepEqual(updater.take(), [], 'removing an unknown cluster does nothing');
  });

  it('removing a cluster also removes endpoints it has for a service defined elsewhere', () => {
    const { aggregate, updater, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([service('echo'), slice('echo', [{ address: '10.0.0.1' }])]);
    // west has endpoints for echo but (for now) no Service object: they still count.
    get(clusters, 'west').apply([slice('echo', [{ address: '10.1.0.1' }])]);
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.cluster), ['east', 'west']);
    updater.take();

    aggregate.removeCluster('west');
    assert.deepEqual(aggregate.endpoints(ECHO).map((e) => e.cluster), ['east']);
    const pushed = updater.take();
    assert.ok(
      pushed.some((r) => r.hostnames.includes(ECHO)),
      `a push names ${ECHO}: ${JSON.stringify(pushed)}`,
    );
  });
});

describe('AggregateRegistry change keys', () => {
  it('names services by Service and Endpoints keys, and a gateway change by one Gateway key (not every hostname)', () => {
    const { updater, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([service('echo'), slice('echo', [{ address: '10.0.0.1' }])]);
    assert.deepEqual(
      updater.requests().flatMap((r) => r.configs),
      [{ kind: ConfigKind.Service, namespace: 'apps', name: ECHO }],
    );
    get(clusters, 'east').apply([slice('echo', [{ address: '10.0.0.2' }])]);
    assert.deepEqual(updater.requests().flatMap((r) => r.configs), [{ kind: ConfigKind.Endpoints, namespace: 'apps', name: ECHO }]);
    const gateway: KubeEvent = {
      type: 'upsert',
      kind: 'Service',
      object: {
        metadata: { name: 'eastwest', namespace: 'istio-system', labels: { 'topology.istio.io/network': 'net-west' } },
        spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: 15443 }] },
        status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
      },
    };
    get(clusters, 'west').apply([gateway]);
    const gatewayPush = updater.requests().find((r) => r.reasons.includes('gateways@west'));
    assert.deepEqual(gatewayPush?.configs, [{ kind: ConfigKind.Gateway, namespace: '', name: 'west' }]);
    assert.equal(gatewayPush?.kind, 'endpoints');
  });
});

describe('AggregateRegistry memory', () => {
  it('services added then removed leave no merged view behind', () => {
    const { aggregate, clusters } = setup('east', 'west');
    for (let i = 0; i < 50; i++) get(clusters, 'east').apply([service(`svc-${i}`), slice(`svc-${i}`, [{ address: `10.0.1.${i}` }])]);
    get(clusters, 'west').apply([service('svc-1')]);
    assert.equal(aggregate.services().length, 50);
    assert.ok(aggregate.mergedViews() >= 50);
    aggregate.removeCluster('east');
    aggregate.removeCluster('west');
    assert.deepEqual(aggregate.services(), []);
    assert.equal(aggregate.mergedViews(), 0, 'nothing kept for hostnames no cluster has');
  });

  it('keeps merged views only of hostnames some cluster has: lookups of unknown names leave nothing behind', () => {
    const { aggregate, clusters } = setup('east', 'west');
    get(clusters, 'east').apply([service('echo'), slice('echo', [{ address: '10.0.0.1' }])]);
    assert.ok(aggregate.service(ECHO));
    const known = aggregate.mergedViews();
    for (let i = 0; i < 1000; i++) {
      assert.equal(aggregate.service(`ghost-${i}.apps.svc.cluster.local`), undefined);
      assert.deepEqual(aggregate.endpoints(`ghost-${i}.apps.svc.cluster.local`), []);
    }
    assert.equal(aggregate.mergedViews(), known, 'a miss is not cached');
    // A name that appears later is seen at once (nothing stale was cached for it).
    get(clusters, 'west').apply([service('ghost-1')]);
    assert.ok(aggregate.service('ghost-1.apps.svc.cluster.local'));
  });

  it('keeps endpoints that arrive before their service', () => {
    const { aggregate, clusters } = setup('east');
    get(clusters, 'east').apply([slice('early', [{ address: '10.0.0.3' }])]);
    assert.deepEqual(aggregate.endpoints('early.apps.svc.cluster.local').map((e) => e.address), ['10.0.0.3']);
  });
});

describe('findConflicts', () => {
  const svc = (cluster: string, ports: Array<{ name: string; port: number; protocol?: 'TCP' | 'UDP'; targetPort?: number | string }>) => ({
    hostname: 'echo.demo.svc.cluster.local',
    name: 'echo',
    namespace: 'demo',
    cluster,
    addresses: [],
    ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? ('TCP' as const), ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}) })),
  });

  it('reports each field clusters disagree on, with every cluster value and the winner', () => {
    const conflicts = findConflicts([
      svc('a', [{ name: 'grpc', port: 80, targetPort: 8080 }]),
      svc('b', [{ name: 'http', port: 80, targetPort: 9090 }]),
      svc('c', [{ name: 'grpc', port: 80, targetPort: 8080 }]),
    ]);
    assert.deepEqual(
      conflicts.map((c) => [c.port, c.field, c.values, c.winner]),
      [
        [80, 'name', { a: 'grpc', b: 'http', c: 'grpc' }, 'a'],
        [80, 'targetPort', { a: '8080', b: '9090', c: '8080' }, 'a'],
      ],
    );
  });

  it('finds nothing when clusters agree, or for a port only one cluster has', () => {
    assert.deepEqual(findConflicts([svc('a', [{ name: 'grpc', port: 80 }]), svc('b', [{ name: 'grpc', port: 80 }, { name: 'x', port: 81 }])]), []);
    assert.deepEqual(findConflicts([svc('a', [{ name: 'grpc', port: 80 }])]), []);
  });

  it('reports a protocol mismatch', () => {
    const [c] = findConflicts([svc('a', [{ name: 'dns', port: 53, protocol: 'UDP' }]), svc('b', [{ name: 'dns', port: 53 }])]);
    assert.equal(c?.field, 'protocol');
  });
});
