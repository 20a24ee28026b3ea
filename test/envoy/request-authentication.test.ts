/**
 * RequestAuthentication through real Envoy sidecars
 * (https://istio.io/latest/docs/reference/config/security/request_authentication/): the
 * test is its own token issuer, with an issuer URL that holds slashes as real ones do. A
 * valid token passes and its claim reaches the application as a header; an expired token or
 * one signed by another key is refused with 401, one for another audience with 403; a request with no
 * token passes authentication and meets the AuthorizationPolicy, which wants a request
 * principal on /secure (403 without one) and denies a group claim.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { MeridianProcess } from '../support/meridian-process.ts';
import { eventually } from '../support/eventually.ts';
import { yamlDocs } from '../support/manifests.ts';
import { ECHO_PORTS, serviceManifests, sleepAndEcho } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO = { vip: '10.96.0.40', host: 'echo.demo.svc.cluster.local' };
const HTTP = ECHO_PORTS.http;
const ISSUER = 'https://issuer.test/tenant-a';
/** Its keys are served over HTTP by the test (jwksUri): Meridian fetches and inlines them. */
const FETCHED_ISSUER = 'https://issuer.test/tenant-b';

function keyPair(): { privateKey: KeyObject; jwks: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, jwks: JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] }) };
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An ES256 JWT, as any issuer would sign it. */
function token(key: KeyObject, claims: Record<string, unknown>, ttlSeconds = 600): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'ES256', typ: 'JWT', kid: 'k1' })}.${b64({ iss: ISSUER, aud: 'echo', iat: now, exp: now + ttlSeconds, ...claims })}`;
  return `${body}.${sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const policies = (jwks: string, jwksUri: string) =>
  yamlDocs(
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'RequestAuthentication',
      metadata: { name: 'echo-jwt', namespace: 'demo' },
      spec: {
        selector: { matchLabels: { app: 'echo' } },
        jwtRules: [
          { issuer: ISSUER, jwks, audiences: ['echo'], outputClaimToHeaders: [{ header: 'x-jwt-team', claim: 'team' }] },
          { issuer: FETCHED_ISSUER, jwksUri },
        ],
      },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'secure-needs-alice', namespace: 'demo' },
      spec: {
        selector: { matchLabels: { app: 'echo' } },
        rules: [{ from: [{ source: { requestPrincipals: [`${ISSUER}/alice`, '*/carol'] } }], to: [{ operation: { paths: ['/secure*'] } }] }, { to: [{ operation: { notPaths: ['/secure*'] } }] }],
      },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'no-blocked-group', namespace: 'demo' },
      spec: { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['blocked'] }] }] },
    },
  );

describe('RequestAuthentication through Envoy sidecars', { skip }, () => {
  let mesh: EnvoyMesh;
  let sleep: Workload;
  const issuer = keyPair();
  const stranger = keyPair();
  const fetched = keyPair();
  let jwksServer: Server;
  let jwksRequests = 0;

  const call = async (path: string, bearer?: string) => {
    const a = await sleep.app.http1({ host: ECHO.vip, port: HTTP.port, authority: `${ECHO.host}:${HTTP.port}`, path, timeoutMs: 5000, ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}) });
    return { status: a.status, body: a.body, received: a.status === 200 ? (JSON.parse(a.body) as Received) : undefined };
  };

  before(async () => {
    mesh = new EnvoyMesh();
    mesh.addPods(['sleep-east-0', 'echo-west-0']);
    const at = (name: string): Pod => mesh.pod(name);
    mesh.writeClusterNodes([['east', 'us-east'], ['west', 'us-west']]);
    writeFileSync(
      mesh.ws.path('west', 'services.yaml'),
      serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO.vip, ports: [HTTP], cluster: 'west', pods: [{ name: 'echo-west-0', address: at('echo-west-0').address, serviceAccount: 'echo' }] }),
    );
    jwksServer = createServer((_req, res) => {
      jwksRequests++;
      res.setHeader('content-type', 'application/json');
      res.end(fetched.jwks);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/keys`;
    // The policies are read from east; they protect echo in west.
    writeFileSync(mesh.ws.path('east', 'policy.yaml'), policies(issuer.jwks, jwksUri));
    await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    [sleep] = await sleepAndEcho(mesh);
    await eventually('echo answering sleep', async () => ((await call('/')).status === 200 ? true : undefined), 20_000, 100);
  });

  after(async () => {
    try {
      await mesh.closeChecked();
    } finally {
      jwksServer.close();
    }
  });

  it('a valid token passes; its claim reaches the application and the token itself does not', async () => {
    const answer = await call('/secure/data', token(issuer.privateKey, { sub: 'alice', team: 'payments' }));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.received?.headers['x-jwt-team'], 'payments');
    assert.equal(answer.received?.headers['authorization'], undefined, 'forwardOriginalToken is false');
  });

  it('no token: authentication passes, and the AuthorizationPolicy decides (403 on /secure, 200 elsewhere)', async () => {
    const secure = await call('/secure/data');
    assert.equal(secure.status, 403, secure.body);
    assert.match(secure.body, /RBAC: access denied/);
    assert.equal((await call('/public')).status, 200);
  });

  it('an expired token and one signed by another key are refused with 401, one for another audience with 403, on any path', async () => {
    for (const [what, bearer, status, reason] of [
      ['expired', token(issuer.privateKey, { sub: 'alice' }, -120), 401, /Jwt is expired/],
      ['another key', token(stranger.privateKey, { sub: 'alice' }), 401, /Jwt verification fails/],
      // Envoy's answer for a token that verifies but is not meant for this service.
      ['another audience', token(issuer.privateKey, { sub: 'alice', aud: 'billing' }), 403, /Audiences in Jwt are not allowed/],
    ] as const) {
      const answer = await call('/public', bearer);
      assert.equal(answer.status, status, `${what}: ${answer.body}`);
      assert.match(answer.body, reason, what);
    }
  });

  it('request principals are matched as iss/sub, across an issuer holding slashes; a suffix pattern as well', async () => {
    assert.equal((await call('/secure/data', token(issuer.privateKey, { sub: 'bob' }))).status, 403, 'a valid token, but not alice');
    assert.equal((await call('/secure/data', token(issuer.privateKey, { sub: 'carol' }))).status, 200, '*/carol');
  });

  it('a DENY on a claim: a list-valued claim holding the value is denied', async () => {
    const denied = await call('/public', token(issuer.privateKey, { sub: 'alice', groups: ['dev', 'blocked'] }));
    assert.equal(denied.status, 403, denied.body);
    assert.equal((await call('/public', token(issuer.privateKey, { sub: 'alice', groups: ['dev'] }))).status, 200);
    assert.equal((await call('/public', token(issuer.privateKey, { sub: 'alice', groups: 'blocked' }))).status, 403, 'a string claim too');
  });

  it('keys behind a jwksUri are fetched by Meridian and sent inline: its tokens pass once they arrive', async () => {
    const bearer = token(fetched.privateKey, { iss: FETCHED_ISSUER, sub: 'dave' });
    await eventually('a token of the fetched issuer accepted', async () => ((await call('/public', bearer)).status === 200 ? true : undefined), 20_000, 200);
    assert.ok(jwksRequests >= 1);
    const policyz = (await (await fetch(`http://${mesh.meridian?.httpAddress}/debug/policyz`)).json()) as {
      jwks: Record<string, { fetched: boolean; keys: number }>;
      enforcement: Array<{ kind: string; policy: string; workloads: Record<string, number>; proxies: { total: number; acked: number; pending: string[]; rejected: unknown[] } }>;
    };
    assert.deepEqual(Object.values(policyz.jwks).map((j) => [j.fetched, j.keys]), [[true, 1]]);
    // Each policy: echo's endpoint in west, and echo's sidecar, which holds it (ACKed).
    assert.deepEqual(
      policyz.enforcement.map((e) => [e.kind, e.policy, e.workloads, e.proxies.total, e.proxies.acked, e.proxies.rejected.length]),
      [
        ['AuthorizationPolicy', 'demo/no-blocked-group', { west: 1 }, 1, 1, 0],
        ['AuthorizationPolicy', 'demo/secure-needs-alice', { west: 1 }, 1, 1, 0],
        ['RequestAuthentication', 'demo/echo-jwt', { west: 1 }, 1, 1, 0],
      ],
    );
    // The fetched issuer's tokens are not alice's: /secure stays closed to them.
    assert.equal((await call('/secure/x', bearer)).status, 403);
  });

  it("a JWT-SVID from Meridian is verified by Envoy's jwt_authn with the keys of Meridian's SPIFFE bundle", async () => {
    const meridian = mesh.meridian;
    assert.ok(meridian);
    const bundleUri = `http://${meridian.httpAddress}/.well-known/spiffe-bundle`;
    writeFileSync(mesh.ws.path('east', 'svid-policy.yaml'), yamlDocs(
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'RequestAuthentication',
        metadata: { name: 'echo-jwt-svid', namespace: 'demo' },
        spec: { selector: { matchLabels: { app: 'echo' } }, jwtRules: [{ issuer: 'spiffe://cluster.local', jwksUri: bundleUri, audiences: ['echo.demo'] }] },
      },
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'svid-needs-sleep', namespace: 'demo' },
        spec: { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*/ns/demo/sa/sleep'] } }], to: [{ operation: { paths: ['/svid*'] } }] }] },
      },
    ));
    const saToken = await MeridianProcess.run(['token', '--config', mesh.configFile, '--namespace', 'demo', '--service-account', 'sleep']);
    assert.equal(saToken.code, 0, saToken.stderr);
    const rootFile = mesh.ws.write('jwt-root.pem', await (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text());
    const svid = await MeridianProcess.run(['jwt-svid', '--server', meridian.xdsTlsAddress, '--server-name', 'localhost', '--root-cert', rootFile, '--token', saToken.stdout.trim(), '--audience', 'echo.demo']);
    assert.equal(svid.code, 0, svid.stderr);
    const bearer = svid.stdout.trim();
    await eventually('the JWT-SVID accepted on /svid', async () => ((await call('/svid/x', bearer)).status === 200 ? true : undefined), 20_000, 200);
    assert.equal((await call('/svid/x')).status, 403, 'no token: denied by the DENY on notRequestPrincipals');
    const other = await MeridianProcess.run(['jwt-svid', '--server', meridian.xdsTlsAddress, '--server-name', 'localhost', '--root-cert', rootFile, '--token', saToken.stdout.trim(), '--audience', 'billing']);
    assert.equal((await call('/svid/x', other.stdout.trim())).status, 403, 'a JWT-SVID for another audience');
  });
});
