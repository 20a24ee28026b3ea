// The HTTP port as a caller sees it: one error shape ({error, code, parameter?}) for wrong or
// missing query parameters (400 naming the parameter), unknown things (404) and refused callers
// (401/403); /debug/* answer localhost, or others with the debug token; probes and metrics stay open.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '@meridian/model';
import { debugTokenReader } from './config.ts';
import { HttpErrorCode, problem, startHttp } from './http.ts';
import { createMetrics } from './metrics.ts';

interface ErrorBody {
  error: string;
  code: string;
  parameter?: string;
}

describe('HTTP views and query parameters', () => {
  let base = '';
  let close: () => Promise<void> = async () => undefined;
  const seen: Array<Record<string, string>> = [];
  before(async () => {
    const { app, port } = await startHttp({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger(),
      metrics: createMetrics(),
      views: {
        ready: () => ({ ready: true, detail: {} }),
        files: { '/trust-bundle': { contentType: 'text/plain', body: (q) => `bundle for ${q.format ?? 'pem'}` } },
        debug: {
          registryz: (q) => (seen.push(q), { service: (q.service ?? '').toUpperCase() }),
          proxyz: (q) => (q.proxy === 'known' ? { proxy: 'known' } : problem(404, HttpErrorCode.NotFound, `no connected proxy ${q.proxy}`, { parameter: 'proxy' })),
        },
        debugParams: {
          registryz: { service: { required: true, form: 'HOST' }, locality: { form: 'r/z/s', check: (v) => (v.split('/').length > 3 ? 'at most three parts' : undefined) } },
          proxyz: { proxy: { required: true, form: 'ID' } },
        },
      },
    });
    base = `http://127.0.0.1:${port}`;
    close = () => app.close();
  });
  after(() => close());

  const errorOf = async (url: string, status: number): Promise<ErrorBody> => {
    const res = await fetch(`${base}${url}`);
    assert.equal(res.status, status, url);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as ErrorBody;
    assert.equal(typeof body.error, 'string');
    assert.equal(typeof body.code, 'string');
    return body;
  };

  it('answers a debug view with its single-valued parameters', async () => {
    const res = await fetch(`${base}/debug/registryz?service=echo`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'ECHO' });
  });

  it('refuses a repeated parameter on a debug view with 400 naming it, without calling the view', async () => {
    const before = seen.length;
    const body = await errorOf('/debug/registryz?service=a&service=b', 400);
    assert.match(body.error, /"service" is given more than once/);
    assert.equal(body.parameter, 'service');
    assert.equal(seen.length, before);
  });

  it('refuses a missing required parameter, an unknown one and a bad value with 400 naming each', async () => {
    const before = seen.length;
    const missing = await errorOf('/debug/registryz', 400);
    assert.deepEqual([missing.parameter, missing.code], ['service', HttpErrorCode.BadParameter]);
    assert.match(missing.error, /"service" is required: service=HOST/);
    const empty = await errorOf('/debug/registryz?service=', 400);
    assert.equal(empty.parameter, 'service');
    const unknown = await errorOf('/debug/registryz?service=a&servce=b', 400);
    assert.equal(unknown.parameter, 'servce');
    assert.match(unknown.error, /unknown query parameter "servce": \/debug\/registryz takes "service", "locality"/);
    const bad = await errorOf('/debug/registryz?service=a&locality=a/b/c/d', 400);
    assert.equal(bad.parameter, 'locality');
    assert.match(bad.error, /at most three parts \(expected locality=r\/z\/s\)/);
    assert.equal(seen.length, before, 'the view is never called with a bad query');
  });

  it('turns a Problem a view returns into its status, and unknown paths into 404, in the same shape', async () => {
    const proxy = await errorOf('/debug/proxyz?proxy=gone', 404);
    assert.deepEqual(proxy, { error: 'no connected proxy gone', code: HttpErrorCode.NotFound, parameter: 'proxy' });
    assert.equal((await fetch(`${base}/debug/proxyz?proxy=known`)).status, 200);
    const path = await errorOf('/debug/nosuchview', 404);
    assert.equal(path.code, HttpErrorCode.NotFound);
    assert.match(path.error, /no such path: GET \/debug\/nosuchview/);
  });

  it('answers a body fastify cannot parse in the same shape', async () => {
    const res = await fetch(`${base}/debug/registryz?service=a`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, HttpErrorCode.BadRequest);
    assert.match(body.error, /JSON/);
  });

  it('refuses a repeated parameter on a document with 400 naming it', async () => {
    const res = await fetch(`${base}/trust-bundle?format=a&format=b`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /"format" is given more than once/);
    assert.equal((await fetch(`${base}/trust-bundle?format=pem`)).status, 200);
  });
});

describe('access to /debug/* (localhost, or the bearer token from http.debugTokenFile)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meridian-http-'));
  const tokenFile = path.join(dir, 'token');
  let withToken: FastifyInstance | undefined;
  let withoutToken: FastifyInstance | undefined;
  const levels: string[] = [];
  const start = async (access: Parameters<typeof startHttp>[0]['access']) =>
    (
      await startHttp({
        host: '127.0.0.1',
        port: 0,
        logger: silentLogger(),
        metrics: createMetrics(),
        access,
        views: {
          ready: () => ({ ready: true, detail: {} }),
          debug: { version: () => ({ version: 'test' }) },
          setLogLevel: (level) => (level === 'loud' ? 'unknown level loud' : (levels.push(level), undefined)),
        },
      })
    ).app;
  before(async () => {
    writeFileSync(tokenFile, 'first-token\n');
    withToken = await start({ token: debugTokenReader(tokenFile) });
    withoutToken = await start(undefined);
  });
  after(async () => {
    await withToken?.close();
    await withoutToken?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // inject() sets the caller's address, as a connection from another host would have it.
  const get = (app: FastifyInstance | undefined, url: string, remoteAddress: string, token?: string) =>
    (app as FastifyInstance).inject({ method: 'GET', url, remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers localhost (IPv4, IPv6, mapped) without a token', async () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      assert.equal((await get(withToken, '/debug/version', address)).statusCode, 200, address);
      assert.equal((await get(withoutToken, '/debug/version', address)).statusCode, 200, address);
    }
  });

  it('asks another host for the token (401 with WWW-Authenticate), refuses a wrong one, takes the right one', async () => {
    const none = await get(withToken, '/debug/version', '10.1.2.3');
    assert.equal(none.statusCode, 401);
    assert.match(none.headers['www-authenticate'] as string, /^Bearer realm=/);
    assert.equal(none.json<ErrorBody>().code, HttpErrorCode.Unauthorized);
    const wrong = await get(withToken, '/debug/version', '10.1.2.3', 'second-token');
    assert.equal(wrong.statusCode, 401);
    assert.doesNotMatch(wrong.body, /first-token/);
    const right = await get(withToken, '/debug/version', '10.1.2.3', 'first-token');
    assert.equal(right.statusCode, 200);
    assert.deepEqual(right.json(), { version: 'test' });
    assert.equal((await get(withToken, '/debug', '10.1.2.3')).statusCode, 401, 'the index too');
    assert.equal((await get(withToken, '/debug/nosuchview', '10.1.2.3')).statusCode, 401, 'unknown debug paths say nothing to strangers');
  });

  it('takes a new token once its file changes (a rotated Secret), and no longer the old one', async () => {
    writeFileSync(tokenFile, 'second-token-longer\n');
    assert.equal((await get(withToken, '/debug/version', '10.1.2.3', 'second-token-longer')).statusCode, 200);
    assert.equal((await get(withToken, '/debug/version', '10.1.2.3', 'first-token')).statusCode, 401);
    writeFileSync(tokenFile, 'first-token\n');
  });

  it('answers only localhost when no token file is configured (403 for others, with or without a token)', async () => {
    const res = await get(withoutToken, '/debug/version', '10.1.2.3', 'anything');
    assert.equal(res.statusCode, 403);
    assert.match(res.json<ErrorBody>().error, /http\.debugTokenFile/);
  });

  it('serves the status page and its assets under the same rule, with a content security policy', async () => {
    for (const url of ['/', '/ui/page.js', '/ui/page.css']) {
      assert.equal((await get(withToken, url, '10.1.2.3')).statusCode, 401, url);
      const local = await get(withToken, url, '127.0.0.1');
      assert.equal(local.statusCode, 200, url);
      assert.match(local.headers['content-security-policy'] as string, /default-src 'none'; script-src 'self'/);
      assert.equal(local.headers['x-content-type-options'], 'nosniff');
    }
    assert.match((await get(withToken, '/', '10.1.2.3', 'first-token')).body, /<script src="\/ui\/page\.js" defer><\/script>/);
  });

  it('keeps /healthz, /readyz and /metrics open to everyone', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await get(withoutToken, url, '10.1.2.3')).statusCode, 200, url);
      assert.equal((await get(withToken, url, '10.1.2.3')).statusCode, 200, url);
    }
  });

  it('changes the log level with PUT /debug/loglevel under the same rule, refusing an unknown level', async () => {
    const put = (remoteAddress: string, url: string, token?: string) =>
      (withToken as FastifyInstance).inject({ method: 'PUT', url, remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} });
    assert.equal((await put('10.1.2.3', '/debug/loglevel?level=debug')).statusCode, 401);
    assert.deepEqual(levels, []);
    const ok = await put('10.1.2.3', '/debug/loglevel?level=debug', 'first-token');
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { level: 'debug' });
    const missing = await put('127.0.0.1', '/debug/loglevel');
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json<ErrorBody>().parameter, 'level');
    const bad = await put('127.0.0.1', '/debug/loglevel?level=loud');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<ErrorBody>().error, /unknown level loud/);
    assert.deepEqual(levels, ['debug']);
  });
});
