/**
 * ServiceEntries for proxyless gRPC, end to end through the real `meridian serve`: a STATIC
 * entry sent over EDS, a DNS entry as the logical DNS cluster gRFC A37 defines (the client
 * resolves the name itself), and a NONE entry a gRPC client cannot call, which it is not
 * sent and which /debug/policyz reports for it. grpc-js-xds and grpc-go make the calls.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { GoEchoClient, buildGoProgram, skipOrFail, type Built } from '../support/go-interop.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const entry = (name: string, spec: object) => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'egress' }, spec });

interface Policyz {
  objects: Array<{ ref?: { kind: string; name: string }; state: string; clients: Record<string, { omit: string[] }> }>;
  serviceEntries: Array<{ hostname: string; resolution: string; served: boolean; endpoints?: string[]; workloadSelector?: Record<string, string> }>;
}

describe('ServiceEntries for proxyless gRPC clients', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  const clients: EchoClient[] = [];
  let meridian: MeridianProcess;
  let goEcho: Promise<Built>;

  const bootstrap = (id: string) => ({
    xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id, locality: { region: 'us-east' }, metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } },
  });

  function client(target: string): EchoClient {
    const c = xdsEchoClient(`xds:///${target}`, bootstrap(`grpc-${target}`));
    clients.push(c);
    return c;
  }

  async function call(c: EchoClient, deadlineMs = 5000): Promise<string> {
    try {
      return (await c.echo('hi', deadlineMs)).backend;
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code] ?? String(err);
    }
  }

  before(async () => {
    goEcho = buildGoProgram('xds-echo');
    goEcho.catch(() => undefined);
    const payments = await startEchoBackend({ host: '127.0.0.51', port: 0, cluster: 'outside', name: 'payments' });
    const ledger = await startEchoBackend({ host: '127.0.0.1', port: 0, cluster: 'outside', name: 'ledger' });
    const vm = await startEchoBackend({ host: '127.0.0.52', port: 0, cluster: 'east', name: 'vm' });
    backends.push(payments, ledger, vm);
    const portOf = (b: EchoBackend) => Number(b.address.split(':').pop());
    mkdirSync(ws.path('east'));
    writeFileSync(
      ws.path('east', 'entries.yaml'),
      yamlDocs(
        node('east-n1', 'us-east', 'us-east-1a'),
        entry('payments', { hosts: ['payments.external.test'], ports: [{ number: 7070, name: 'grpc', protocol: 'GRPC', targetPort: portOf(payments) }], resolution: 'STATIC', endpoints: [{ address: '127.0.0.51' }] }),
        // `localhost` is resolved by the client: no address of it is in Meridian's config.
        entry('ledger', { hosts: ['ledger.external.test'], ports: [{ number: 7070, name: 'grpc', protocol: 'GRPC', targetPort: portOf(ledger) }], resolution: 'DNS', endpoints: [{ address: 'localhost' }] }),
        entry('legacy', { hosts: ['legacy.external.test'], ports: [{ number: 7070, name: 'grpc', protocol: 'GRPC' }], resolution: 'NONE' }),
        // A VM registered as a WorkloadEntry behind a Service, and an entry that selects it by label.
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'vms', namespace: 'egress' }, spec: { selector: { role: 'vm' }, ports: [{ name: 'grpc', port: 9090, targetPort: portOf(vm) }] } },
        { apiVersion: 'meridian.dev/v1alpha1', kind: 'WorkloadEntry', metadata: { name: 'vm-1', namespace: 'egress' }, spec: { address: '127.0.0.52', labels: { role: 'vm', app: 'inventory' }, serviceAccount: 'inventory' } },
        entry('inventory', { hosts: ['inventory.internal.test'], location: 'MESH_INTERNAL', ports: [{ number: 7070, name: 'grpc', protocol: 'GRPC', targetPort: portOf(vm) }], resolution: 'STATIC', workloadSelector: { labels: { app: 'inventory' } } }),
      ),
    );
    const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian?.stop();
    await Promise.all(backends.map((b) => b.close()));
    ws.remove();
  });

  it('grpc-js-xds calls a STATIC entry through EDS and a DNS entry through a logical DNS cluster', async () => {
    const payments = client('payments.external.test:7070');
    const ledger = client('ledger.external.test:7070');
    await eventually('payments answering', async () => ((await call(payments)) === 'payments' ? true : undefined), 20_000, 100);
    await eventually('ledger answering', async () => ((await call(ledger)) === 'ledger' ? true : undefined), 20_000, 100);
    for (let i = 0; i < 5; i++) assert.equal(await call(ledger), 'ledger');
  });

  it('an entry with a workloadSelector reaches the workloads that carry its labels', async () => {
    const inventory = client('inventory.internal.test:7070');
    await eventually('the selected VM answering', async () => ((await call(inventory)) === 'vm' ? true : undefined), 20_000, 100);
  });

  it('a NONE entry is not sent to gRPC clients, and the report says so', async () => {
    const legacy = client('legacy.external.test:7070');
    assert.notEqual(await call(legacy, 1500), 'legacy');
    const p = (await meridian.getJson<Policyz>('/debug/policyz')).body;
    const row = p.objects.find((o) => o.ref?.kind === 'ServiceEntry' && o.ref.name === 'legacy');
    assert.equal(row?.state, 'PartiallyApplied');
    assert.match(row?.clients['grpc']?.omit[0] ?? '', /^spec\.resolution: NONE has no endpoints for a gRPC client/);
    assert.deepEqual(
      p.serviceEntries.map((e) => [e.hostname, e.resolution, e.served, e.endpoints?.length ?? JSON.stringify(e.workloadSelector)]),
      [
        ['inventory.internal.test', 'STATIC', true, '{"app":"inventory"}'],
        ['ledger.external.test', 'DNS', true, 1],
        ['legacy.external.test', 'NONE', true, 0],
        ['payments.external.test', 'STATIC', true, 1],
      ],
    );
  });

  it('grpc-go calls both entries the same way', async (t) => {
    const built = await goEcho;
    if ('missing' in built) {
      skipOrFail(t, built.missing);
      return;
    }
    for (const [host, backend] of [['payments.external.test', 'payments'], ['ledger.external.test', 'ledger']] as const) {
      const out = await MeridianProcess.run(['bootstrap', '--node-id', `go-${backend}`, '--cluster', 'east', '--namespace', 'demo', '--locality', 'us-east/us-east-1a', '--server', meridian.xdsAddress]);
      assert.equal(out.code, 0, out.stderr);
      const file = ws.path(`go-${backend}.bootstrap.json`);
      writeFileSync(file, out.stdout);
      const go: GoEchoClient = new GoEchoClient(built.binary, `xds:///${host}:7070`, file, { GRPC_GO_LOG_SEVERITY_LEVEL: 'warning' });
      try {
        const answers: Array<{ backend?: string; error?: string }> = await go.call(3);
        assert.deepEqual(answers.map((a) => a.backend ?? a.error), [backend, backend, backend], go.stderr.join(''));
      } finally {
        go.close();
      }
    }
  });
});
