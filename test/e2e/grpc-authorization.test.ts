/**
 * End to end: AuthorizationPolicy enforced by a proxyless gRPC server. The real `meridian
 * serve` under strict mTLS; a @grpc/grpc-js-xds `XdsServer` (RBAC on, as
 * `GRPC_XDS_EXPERIMENTAL_RBAC=true` turns it on) whose listener carries the RBAC Meridian
 * compiled; clients with certificates of several identities. ALLOW by namespace, a DENY by
 * principal that beats it, and a change at run time.
 */
import '../support/grpc-rbac-on.ts';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { grpcBootstrap } from '@meridian/server';
import { echoClient, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { freePort, startXdsEchoServer, workloadManifests, type SeenCall } from '../support/grpc-xds-server.ts';
import { yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { openTestCa, writeWorkloadCerts, type TestCa } from '../support/workload-certs.ts';

const TRUST_DOMAIN = 'mesh.test';
const ECHO = { host: '127.0.0.43', hostname: 'echo.demo.svc.cluster.local', sa: 'echo' };

const policy = (denied: string[]) =>
  yamlDocs(
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'same-namespace', namespace: 'demo' }, spec: { rules: [{ from: [{ source: { namespaces: ['demo'] } }] }] } },
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'blocked', namespace: 'demo' }, spec: { action: 'DENY', rules: [{ from: [{ source: { principals: denied.map((sa) => `${TRUST_DOMAIN}/ns/demo/sa/${sa}`) } }] }] } },
  );

describe('AuthorizationPolicy on a proxyless gRPC server', () => {
  const ws = new Workspace('meridian-grpc-authz-');
  const clients: EchoClient[] = [];
  let server: grpcXds.XdsServer | undefined;
  let meridian: MeridianProcess | undefined;
  let ca: TestCa;
  let seen: SeenCall[] = [];

  const bootstrapFor = (nodeId: string, namespace: string, certDir: string) => {
    if (!meridian) throw new Error('meridian not started');
    return grpcBootstrap({ nodeId, server: meridian.xdsAddress, cluster: 'east', namespace, certDir });
  };

  /** A client of `namespace`/`sa` with its own SVID. */
  const clientAs = async (namespace: string, sa: string) => {
    const dir = ws.path('certs', `${namespace}-${sa}`);
    await writeWorkloadCerts(ca, dir, { namespace, serviceAccount: sa });
    const c = echoClient(`xds:///${ECHO.hostname}:7070`, new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()), {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrapFor(`${namespace}-${sa}`, namespace, dir)),
    });
    clients.push(c);
    return c;
  };

  const denied = (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED;

  before(async () => {
    grpcXds.register();
    ca = await openTestCa(ws.path('ca'), TRUST_DOMAIN);
    const serverDir = ws.path('certs', 'echo');
    await writeWorkloadCerts(ca, serverDir, { namespace: 'demo', serviceAccount: ECHO.sa });
    const port = await freePort();
    mkdirSync(ws.path('east'));
    writeFileSync(ws.path('east', 'echo.yaml'), workloadManifests('echo', ECHO.host, port, ECHO.sa));
    writeFileSync(ws.path('east', 'policy.yaml'), policy(['blocked']));
    const config = ws.writeConfig({ trustDomain: TRUST_DOMAIN, ca: { dir: ws.path('ca') }, mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const started = await startXdsEchoServer(`${ECHO.host}:${port}`, bootstrapFor('echo-server', 'demo', serverDir), 'echo');
    server = started.server;
    seen = started.seen;
  });

  after(async () => {
    for (const c of clients) c.close();
    server?.forceShutdown();
    const code = await meridian?.stop();
    ws.remove();
    if (meridian) assert.equal(code, 0);
  });

  it('a caller of the same namespace is allowed; one of another namespace is refused with PERMISSION_DENIED before the handler runs', async () => {
    assert.equal((await (await clientAs('demo', 'client')).echo('hello', 20_000)).backend, 'echo');
    const calls = seen.length;
    await assert.rejects((await clientAs('other', 'client')).echo('let me in', 20_000), denied);
    assert.equal(seen.length, calls, 'the handler never ran');
  });

  it('a DENY by principal beats the namespace ALLOW, and a change at run time lifts it', async () => {
    const blocked = await clientAs('demo', 'blocked');
    await assert.rejects(blocked.echo('blocked?', 20_000), denied);
    writeFileSync(ws.path('east', 'policy.yaml'), policy(['nobody']));
    await eventually('the DENY lifted', async () => {
      try {
        return (await blocked.echo('now?', 5000)).backend === 'echo' ? true : undefined;
      } catch {
        return undefined;
      }
    }, 20_000, 200);
  });
});
