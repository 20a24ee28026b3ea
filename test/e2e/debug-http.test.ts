/**
 * The debug HTTP surface of the real `meridian serve`: wrong or missing query parameters are a
 * 400 naming the parameter, an unknown proxy a 404, all in one error shape; with
 * `http.debugTokenFile` set, the CLI commands that read /debug send the token (`--token-file`
 * or MERIDIAN_DEBUG_TOKEN). Who may read what is tested with injected addresses in http.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MeridianProcess, TWO_CLUSTERS, Workspace } from '../support/meridian-process.ts';

interface ErrorBody {
  error: string;
  code: string;
  parameter?: string;
}

describe('debug HTTP surface of meridian serve', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;

  before(async () => {
    ws.copyExample('two-clusters');
    ws.write('debug-token', 'a-token-from-a-secret\n');
    const config = ws.writeConfig({
      clusters: TWO_CLUSTERS,
      http: { debugTokenFile: './debug-token' },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });
  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  const errorOf = async (url: string, status: number): Promise<ErrorBody> => {
    const { status: got, body } = await meridian.getJson<ErrorBody>(url);
    assert.equal(got, status, `${url}: ${JSON.stringify(body)}`);
    assert.equal(typeof body.error, 'string');
    assert.match(body.code, /^HTTP_ERR_/);
    return body;
  };

  it('answers 400 naming the parameter for a missing, unknown or wrong one', async () => {
    assert.equal((await errorOf('/debug/endpointz', 400)).parameter, 'service');
    assert.equal((await errorOf('/debug/config_dump', 400)).parameter, 'proxy');
    const unknownService = await errorOf('/debug/endpointz?service=nope.demo.svc.cluster.local', 400);
    assert.equal(unknownService.parameter, 'service');
    assert.match(unknownService.error, /no service nope\.demo\.svc\.cluster\.local/);
    const unknownCluster = await errorOf('/debug/endpointz?service=echo.demo.svc.cluster.local&cluster=north', 400);
    assert.match(unknownCluster.error, /no cluster north \(clusters: east, west\)/);
    const typo = await errorOf('/debug/syncz?prxy=x', 400);
    assert.equal(typo.parameter, 'prxy');
    assert.equal((await errorOf('/debug/version?verbose=1', 400)).parameter, 'verbose');
    const ok = await meridian.getJson<{ ports: unknown[] }>('/debug/endpointz?service=echo.demo.svc.cluster.local&cluster=west&locality=us-west/us-west-1a');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ports.length, 1);
  });

  it('answers 404 for a proxy that is not connected', async () => {
    for (const url of ['/debug/syncz?proxy=nobody', '/debug/config_dump?proxy=nobody', '/debug/endpointz?service=echo.demo.svc.cluster.local&proxy=nobody']) {
      const body = await errorOf(url, 404);
      assert.equal(body.parameter, 'proxy');
      assert.match(body.error, /no connected proxy nobody/);
    }
  });

  it('serves localhost without a token while a token file is configured; probes stay plain', async () => {
    assert.equal((await meridian.getJson('/debug/version')).status, 200);
    assert.equal((await fetch(`http://${meridian.httpAddress}/healthz`)).status, 200);
    assert.equal((await fetch(`http://${meridian.httpAddress}/metrics`)).status, 200);
  });
});

describe('CLI commands that read /debug send the debug token', () => {
  const ws = new Workspace();
  const seen: Array<string | undefined> = [];
  let server: Server;
  let address = '';
  let refuse = false;

  before(async () => {
    // A stand-in for a Meridian on another host: it records what the CLI sends.
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      if (refuse) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'a bearer token is required', code: 'HTTP_ERR_UNAUTHORIZED' }));
        return;
      }
      const bodies: Record<string, object> = {
        '/debug/syncz': { pushes: 0, lastPush: null, proxies: [] },
        '/debug/clusterz': { clusters: [], remoteSecrets: null },
        '/debug/version': { version: '9.9.9', replica: 'stand-in', startedAt: new Date(0).toISOString() },
      };
      res.end(JSON.stringify(bodies[req.url ?? ''] ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    ws.write('token', 'file-token\n');
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    ws.remove();
  });

  it('sends --token-file, else MERIDIAN_DEBUG_TOKEN, else nothing', async () => {
    seen.length = 0;
    assert.equal((await MeridianProcess.run(['status', '--server', address, '--token-file', ws.path('token')], { MERIDIAN_DEBUG_TOKEN: 'env-token' })).code, 0);
    assert.deepEqual(seen, ['Bearer file-token', 'Bearer file-token']);
    seen.length = 0;
    const version = await MeridianProcess.run(['version', '--server', address, '-o', 'json'], { MERIDIAN_DEBUG_TOKEN: 'env-token' });
    assert.equal(version.code, 0);
    assert.match(version.stdout, /"replica": "stand-in"/);
    assert.deepEqual(seen, ['Bearer env-token']);
    seen.length = 0;
    assert.equal((await MeridianProcess.run(['status', '--server', address], { MERIDIAN_DEBUG_TOKEN: '' })).code, 0);
    assert.deepEqual(seen, [undefined, undefined]);
  });

  it('says what the server refused and how to give a token', async () => {
    refuse = true;
    const run = await MeridianProcess.run(['status', '--server', address], { MERIDIAN_DEBUG_TOKEN: '' });
    refuse = false;
    assert.equal(run.code, 1);
    assert.match(run.stderr, /HTTP 401: a bearer token is required \(give --token-file or set MERIDIAN_DEBUG_TOKEN\)/);
    const missing = await MeridianProcess.run(['status', '--server', address, '--token-file', ws.path('nope')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--token-file.*cannot read/s);
  });
});
