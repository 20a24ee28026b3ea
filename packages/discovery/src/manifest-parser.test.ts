import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestError, parseManifest } from './manifest-parser.ts';

const NODE = `apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels:
    topology.kubernetes.io/region: r1
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  ports:
    - name: grpc
      port: 7070
`;

const SLICE = `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-x1
  namespace: apps
  labels:
    kubernetes.io/service-name: echo
addressType: IPv4
ports:
  - name: grpc
    port: 7070
endpoints:
  - addresses: ["10.0.0.1"]
    conditions: { ready: true }
    nodeName: node-a
`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
`;

function docs(...parts: string[]): string {
  return parts.join('---\n');
}

function parseError(text: string): ManifestError {
  try {
    parseManifest(text);
  } catch (err) {
    assert.ok(err instanceof ManifestError, `a ManifestError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the manifest to be rejected');
}

describe('parseManifest', () => {
  it('reads every known document of a multi-document file, ignoring other kinds', () => {
    const parsed = parseManifest(docs(NODE, SERVICE, DEPLOYMENT, SLICE));
    assert.deepEqual(
      parsed.objects.map((e) => [e.type, e.kind, e.object.metadata?.name]),
      [
        ['upsert', 'Node', 'node-a'],
        ['upsert', 'Service', 'echo'],
        ['upsert', 'EndpointSlice', 'echo-x1'],
      ],
    );
    assert.deepEqual(parsed.ignored, ['Deployment']);
    const slice = parsed.objects[2];
    assert.ok(slice?.kind === 'EndpointSlice');
    assert.deepEqual(slice.object.endpoints?.[0]?.addresses, ['10.0.0.1']);
    assert.equal(slice.object.endpoints?.[0]?.nodeName, 'node-a');
  });

  it('defaults the namespace of namespaced kinds only', () => {
    const parsed = parseManifest(
      docs(NODE, SERVICE, SLICE, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n'),
    );
    assert.deepEqual(
      parsed.objects.map((e) => [e.kind, e.object.metadata?.namespace]),
      [
        ['Node', undefined],
        ['Service', 'default'],
        ['EndpointSlice', 'apps'],
        ['Namespace', undefined],
        ['Pod', 'default'],
      ],
    );
  });

  it('skips empty documents and accepts empty files and JSON', () => {
    assert.deepEqual(parseManifest(''), { objects: [], config: [], ignored: [] });
    assert.deepEqual(parseManifest('# nothing here yet\n'), { objects: [], config: [], ignored: [] });
    assert.deepEqual(parseManifest(`---\n${NODE}---\n---\n`).objects.length, 1);
    const json = parseManifest(JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n-json' } }));
    assert.deepEqual(json.objects.map((e) => e.object.metadata?.name), ['n-json']);
  });

  const bad: { name: string; text: string; document: number; reason: RegExp }[] = [
    {
      name: 'wrong apiVersion for a Service',
      text: docs(NODE, SERVICE.replace('apiVersion: v1', 'apiVersion: apps/v1')),
      document: 2,
      reason: /apiVersion: Service must be v1, got apps\/v1/,
    },
    {
      name: 'old apiVersion for an EndpointSlice',
      text: docs(SLICE.replace('discovery.k8s.io/v1', 'discovery.k8s.io/v1beta1')),
      document: 1,
      reason: /apiVersion: EndpointSlice must be discovery\.k8s\.io\/v1, got discovery\.k8s\.io\/v1beta1/,
    },
    {
      name: 'missing metadata.name',
      text: docs(NODE, SERVICE, 'apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: apps\n'),
      document: 3,
      reason: /Pod: metadata\.name: /,
    },
    {
      name: 'missing metadata',
      text: 'apiVersion: v1\nkind: Node\n',
      document: 1,
      reason: /Node: metadata: /,
    },
    {
      name: 'Service port as a string',
      text: docs(NODE, SERVICE.replace('port: 7070', 'port: "7070"')),
      document: 2,
      reason: /Service: spec\.ports\.0\.port: .*number/,
    },
    {
      name: 'Service port out of range',
      text: docs(SERVICE.replace('port: 7070', 'port: 70000')),
      document: 1,
      reason: /Service: spec\.ports\.0\.port: /,
    },
    {
      name: 'Service port protocol unknown',
      text: docs(SERVICE.replace('port: 7070', 'port: 7070\n      protocol: HTTP')),
      document: 1,
      reason: /Service: spec\.ports\.0\.protocol: /,
    },
    {
      name: 'EndpointSlice port not an integer',
      text: docs(NODE, SERVICE, SLICE.replace('port: 7070', 'port: 70.5')),
      document: 3,
      reason: /EndpointSlice: ports\.0\.port: /,
    },
    {
      name: 'EndpointSlice without addressType',
      text: docs(SLICE.replace('addressType: IPv4\n', '')),
      document: 1,
      reason: /EndpointSlice: addressType: /,
    },
    {
      name: 'EndpointSlice endpoint without addresses',
      text: docs(SLICE.replace('addresses: ["10.0.0.1"]', 'addresses: []')),
      document: 1,
      reason: /EndpointSlice: endpoints\.0\.addresses: /,
    },
    {
      name: 'EndpointSlice readiness not a boolean',
      text: docs(SLICE.replace('ready: true', 'ready: "yes"')),
      document: 1,
      reason: /EndpointSlice: endpoints\.0\.conditions\.ready: /,
    },
    {
      name: 'label value not a string',
      text: docs(NODE, NODE.replace('region: r1', 'region: 1')),
      document: 2,
      reason: /Node: metadata\.labels\.topology\.kubernetes\.io\/region: /,
    },
    {
      name: 'missing kind',
      text: docs(NODE, 'apiVersion: v1\nmetadata: {name: x}\n'),
      document: 2,
      reason: /^kind: required string$/,
    },
    {
      name: 'missing apiVersion',
      text: docs('kind: Service\nmetadata: {name: x}\n'),
      document: 1,
      reason: /^apiVersion: required string$/,
    },
    {
      name: 'a list instead of a mapping',
      text: docs(NODE, '- a\n- b\n'),
      document: 2,
      reason: /expected a mapping/,
    },
    {
      name: 'kind List',
      text: docs('apiVersion: v1\nkind: List\nitems: []\n'),
      document: 1,
      reason: /kind List is not supported/,
    },
    {
      name: 'YAML syntax error in the third document',
      text: docs(NODE, SERVICE, 'apiVersion: v1\nkind: Node\nmetadata: {name: [unclosed\n'),
      document: 3,
      reason: /line \d+/,
    },
    {
      name: 'unterminated quote',
      text: 'apiVersion: "v1\nkind: Node\n',
      document: 1,
      reason: /quote/i,
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}, naming document ${c.document} and the field`, () => {
      const err = parseError(c.text);
      assert.equal(err.document, c.document);
      assert.match(err.reason, c.reason);
      assert.equal(err.message, `document ${c.document}: ${err.reason}`);
    });
  }
});

describe('parseManifest WorkloadEntry', () => {
  it('accepts Meridian WorkloadEntry documents and checks their fields', () => {
    const ok = parseManifest(
      'apiVersion: meridian.dev/v1alpha1\nkind: WorkloadEntry\nmetadata: {name: vm-1, namespace: shop}\nspec: {address: 10.9.0.1, labels: {app: billing}, ports: {grpc: 9000}, locality: r/z}\n',
    );
    assert.equal(ok.objects[0]?.kind, 'WorkloadEntry');
    assert.throws(
      () => parseManifest('apiVersion: meridian.dev/v1alpha1\nkind: WorkloadEntry\nmetadata: {name: vm-1}\nspec: {ports: {grpc: 99999}}\n'),
      (err: unknown) => err instanceof ManifestError && /spec\.(address|ports)/.test(err.reason),
    );
  });
});
