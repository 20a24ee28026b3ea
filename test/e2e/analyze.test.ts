/**
 * `meridian analyze` run as a user runs it, on manifest directories written by the test:
 * each check finds its case (and only it), the shipped example has no finding, exit codes
 * follow errors, and `-o json` carries every field with the code's docs anchor.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface Output {
  errors: number;
  findings: Array<{ code: string; severity: string; clusters: string[]; object: string; origin?: string; message: string; docs: string }>;
}

const istio = (kind: string, name: string, spec: object) => ({ apiVersion: kind === 'AuthorizationPolicy' ? 'security.istio.io/v1' : 'networking.istio.io/v1', kind, metadata: { name, namespace: 'demo' }, spec });

/** A pod that gives endpoints their labels, and its slice entry. */
function workload(name: string, address: string, labels: Record<string, string>, ready = true): object[] {
  return [
    { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'demo', labels }, spec: { serviceAccountName: 'echo', nodeName: 'n1' } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-slice`, namespace: 'demo', labels: { 'kubernetes.io/service-name': labels['app'] ?? name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [address], conditions: { ready }, nodeName: 'n1', targetRef: { kind: 'Pod', name, namespace: 'demo' } }],
    },
  ];
}

describe('meridian analyze', () => {
  const ws = new Workspace();
  after(() => ws.remove());

  async function analyze(config: string, ...args: string[]): Promise<{ code: number | null; out: Output }> {
    const run = await MeridianProcess.run(['analyze', '--config', config, '-o', 'json', ...args]);
    assert.equal(run.stderr, '');
    return { code: run.code, out: JSON.parse(run.stdout) as Output };
  }

  it('has nothing to say about the shipped example', async () => {
    const run = await MeridianProcess.run(['analyze', '--config', 'examples/two-clusters/meridian.yaml']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /no findings/);
  });

  it('finds each problem once, with its code, cluster and object; the exit code follows errors', async () => {
    mkdirSync(ws.path('east'));
    mkdirSync(ws.path('west'));
    writeFileSync(ws.path('east', 'mesh.yaml'), yamlDocs(
      node('n1', 'r1', 'z1'),
      service('echo', 'demo', [{ name: 'http', port: 8080 }]),
      ...workload('echo-v1', '10.0.0.1', { app: 'echo', version: 'v1' }),
      istio('DestinationRule', 'echo', { host: 'echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v9', labels: { version: 'v9' } }] }),
      istio('VirtualService', 'echo', { hosts: ['echo'], http: [{ route: [{ destination: { host: 'echo', subset: 'v1' }, weight: 50 }, { destination: { host: 'nowhere', subset: 'v1' }, weight: 50 }] }] }),
      istio('AuthorizationPolicy', 'ghost', { selector: { matchLabels: { app: 'ghost' } }, rules: [{}] }),
      istio('VirtualService', 'shared', { hosts: ['echo.demo.svc.cluster.local'], gateways: ['edge'], http: [{ timeout: '1s', route: [{ destination: { host: 'echo' } }] }] }),
      // An entry's host is a known destination; a name no entry defines is not; an entry cannot take over a Service's name.
      istio('ServiceEntry', 'api', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
      istio('VirtualService', 'egress', { hosts: ['api.example.com'], http: [{ match: [{ headers: { 'x-v2': { exact: '1' } } }], route: [{ destination: { host: 'v2.example.com' } }] }, { route: [{ destination: { host: 'api.example.com' } }] }] }),
      istio('ServiceEntry', 'shadow', { hosts: ['echo.demo.svc.cluster.local'], ports: [{ number: 8080, name: 'http' }], resolution: 'STATIC', endpoints: [{ address: '10.9.9.9' }] }),
    ));
    writeFileSync(ws.path('west', 'mesh.yaml'), yamlDocs(
      node('n1', 'r2', 'z2'),
      // The same service with another port name: clusters disagree.
      service('echo', 'demo', [{ name: 'tcp', port: 8080 }]),
      ...workload('echo-west', '10.1.0.1', { app: 'echo', version: 'v1' }, false),
      istio('VirtualService', 'shared', { hosts: ['echo.demo.svc.cluster.local'], gateways: ['edge'], http: [{ timeout: '2s', route: [{ destination: { host: 'echo' } }] }] }),
      endpointSlice('unused', 'demo', 'none', { name: 'http', port: 80 }, []),
    ));
    const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east', primary: true }, { id: 'west', manifests: './west' }] });
    const { code, out } = await analyze(config);
    const found = out.findings.map((f) => `${f.code} ${f.severity} ${f.clusters.join(',')} ${f.object}`);
    assert.deepEqual(
      found.filter((f) => !f.startsWith('MA0004')),
      [
        'MA0003 warning east,west VirtualService demo/shared',
        // Port name, and the protocol it implies.
        'MA0005 warning east,west echo.demo.svc.cluster.local:8080',
        'MA0005 warning east,west echo.demo.svc.cluster.local:8080',
        'MA0006 warning east VirtualService demo/echo',
        'MA0006 warning east VirtualService demo/egress',
        'MA0007 warning east DestinationRule demo/echo',
        'MA0008 warning east AuthorizationPolicy demo/ghost',
        'MA0009 info west echo.demo.svc.cluster.local',
        'MA0011 warning east ServiceEntry demo/shadow',
      ],
      found.join('\n'),
    );
    // Authorization is enforced: the policy is applied, so it is not reported as not applied.
    assert.ok(!found.some((f) => f.startsWith('MA0004') && f.endsWith('AuthorizationPolicy demo/ghost')), found.join('\n'));
    assert.match(out.findings.find((f) => f.code === 'MA0006')?.message ?? '', /^nowhere \(nowhere\.demo\.svc\.cluster\.local\) is no service/);
    assert.match(out.findings.filter((f) => f.code === 'MA0006')[1]?.message ?? '', /^v2\.example\.com \(v2\.example\.com\) is no service in any cluster nor a ServiceEntry's host/);
    assert.match(out.findings.find((f) => f.code === 'MA0011')?.message ?? '', /^host echo\.demo\.svc\.cluster\.local is a Service in east, west: the Service is served/);
    assert.match(out.findings.find((f) => f.code === 'MA0007')?.message ?? '', /^subset v9 /);
    assert.equal(out.findings.find((f) => f.code === 'MA0005')?.docs, 'docs/analyze.md#ma0005');
    // The exit code follows the errors.
    assert.equal(out.errors, out.findings.filter((f) => f.severity === 'error').length);
    assert.equal(code, out.errors > 0 ? 1 : 0);
  });

  it('an invalid object and an unreadable file are errors, named by field and file, exit 1', async () => {
    mkdirSync(ws.path('bad'));
    writeFileSync(ws.path('bad', 'policy.yaml'), yamlDocs(istio('VirtualService', 'broken', { hosts: ['echo'], http: [{ timout: '1s', route: [{ destination: { host: 'echo' } }] }] })));
    writeFileSync(ws.path('bad', 'torn.yaml'), 'kind: Service\nmetadata: [unclosed\n');
    const config = ws.writeConfig({ clusters: [{ id: 'bad', manifests: './bad' }] });
    const { code, out } = await analyze(config);
    assert.equal(code, 1);
    const invalid = out.findings.find((f) => f.code === 'MA0002');
    assert.equal(invalid?.object, 'VirtualService demo/broken');
    assert.match(invalid?.message ?? '', /^spec\.http\[0\]/);
    assert.equal(invalid?.origin, 'policy.yaml:1');
    const unreadable = out.findings.find((f) => f.code === 'MA0001');
    assert.equal(unreadable?.origin, 'torn.yaml');
  });

  it('warns when a security policy is read from fewer source clusters than its workloads run in', async () => {
    mkdirSync(ws.path('a'));
    mkdirSync(ws.path('b'));
    const isolate = istio('AuthorizationPolicy', 'isolate', { rules: [{ from: [{ source: { namespaces: ['demo'] } }] }] });
    writeFileSync(ws.path('a', 'mesh.yaml'), yamlDocs(node('n1', 'r1'), service('echo', 'demo', [{ name: 'http', port: 8080 }]), ...workload('echo-a', '10.0.0.1', { app: 'echo' }), isolate));
    writeFileSync(ws.path('b', 'mesh.yaml'), yamlDocs(node('n1', 'r2'), service('echo', 'demo', [{ name: 'http', port: 8080 }]), ...workload('echo-b', '10.1.0.1', { app: 'echo' })));
    const clusters = [{ id: 'a', manifests: './a', primary: true }, { id: 'b', manifests: './b' }];
    const { out } = await analyze(ws.writeConfig({ clusters }, 'sources-all.yaml'));
    const warned = out.findings.filter((f) => f.code === 'MA0010');
    assert.deepEqual(warned.map((f) => `${f.severity} ${f.clusters.join(',')} ${f.object}`), ['warning a AuthorizationPolicy demo/isolate']);
    assert.match(warned[0]?.message ?? '', /read only from a, while demo has workloads it selects in b too/);
    // Policy read from the primary only: one copy there is how it is meant to be.
    const primaryOnly = await analyze(ws.writeConfig({ clusters, policy: { sources: 'primary' } }, 'sources-primary.yaml'));
    assert.deepEqual(primaryOnly.out.findings.filter((f) => f.code === 'MA0010'), []);
    // The same copy in b as well: nothing to warn about.
    writeFileSync(ws.path('b', 'policy.yaml'), yamlDocs(isolate));
    const copied = await analyze(ws.writeConfig({ clusters }, 'sources-all.yaml'));
    assert.deepEqual(copied.out.findings.filter((f) => f.code === 'MA0010'), []);
  });

  it('refuses an unknown output format with a usage error', async () => {
    const run = await MeridianProcess.run(['analyze', '--config', 'examples/two-clusters/meridian.yaml', '-o', 'xml']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /xml/);
  });
});
