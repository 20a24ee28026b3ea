import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { JwksFetcher } from './jwks-fetcher.ts';

describe('JwksFetcher against a real HTTP server', () => {
  let server: Server;
  let uri = '';
  let answer: { status: number; body: string } = { status: 200, body: '{"keys":[{"kty":"EC","kid":"a"}]}' };
  before(async () => {
    server = createServer((_req, res) => {
      res.statusCode = answer.status;
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  after(() => server.close());

  /** Waits (boundedly) for the fetcher's next refresh to have ended. */
  const nextRefresh = async (fetcher: JwksFetcher, after: number): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const v = (fetcher.view() as Record<string, { fetchedAt?: string; lastError?: string }>)[uri];
      if (v?.lastError || (v?.fetchedAt && Date.parse(v.fetchedAt) > after)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('no refresh within 2 s');
  };

  it('fetches on first ask, pushes when keys change, keeps the last good keys through a failure', async () => {
    const changes: string[] = [];
    const fetcher = new JwksFetcher({ logger: silentLogger(), onChange: (u) => changes.push(u), refreshMs: 30, retryMs: 30 });
    try {
      assert.equal(fetcher.get(uri), undefined, 'nothing before the first fetch');
      await fetcher.settled();
      assert.equal(fetcher.get(uri), '{"keys":[{"kty":"EC","kid":"a"}]}');
      assert.deepEqual(changes, [uri]);

      // The same keys, other whitespace: no change, no push.
      answer = { status: 200, body: '{ "keys": [ {"kty":"EC", "kid":"a"} ] }' };
      await nextRefresh(fetcher, Date.now());
      assert.deepEqual(changes, [uri]);

      answer = { status: 503, body: 'down' };
      await nextRefresh(fetcher, Date.now());
      assert.equal(fetcher.get(uri), '{"keys":[{"kty":"EC","kid":"a"}]}', 'kept through the failure');
      assert.match(JSON.stringify(fetcher.view()), /"lastError":"HTTP 503"/);

      answer = { status: 200, body: '{"keys":[{"kty":"EC","kid":"b"}]}' };
      for (let i = 0; i < 100 && changes.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(changes, [uri, uri]);
      assert.equal(fetcher.get(uri), '{"keys":[{"kty":"EC","kid":"b"}]}');
    } finally {
      fetcher.stop();
    }
  });

  it('forgets a URI no policy names any more', async () => {
    answer = { status: 200, body: '{"keys":[]}' };
    const fetcher = new JwksFetcher({ logger: silentLogger(), onChange: () => undefined, refreshMs: 20 });
    try {
      fetcher.get(uri);
      await fetcher.settled();
      fetcher.retain(new Set());
      assert.deepEqual(fetcher.view(), {});
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(fetcher.view(), {}, 'no refresh brought it back');
    } finally {
      fetcher.stop();
    }
  });

  it('refuses what is not a key set, and says why', async () => {
    answer = { status: 200, body: '{"issuer":"x"}' };
    const fetcher = new JwksFetcher({ logger: silentLogger(), onChange: () => assert.fail('no keys to push') });
    try {
      fetcher.get(uri);
      await fetcher.settled();
      assert.equal(fetcher.get(uri), undefined);
      assert.deepEqual(fetcher.view(), { [uri]: { fetched: false, lastError: 'not a JSON Web Key Set (no keys array)', keys: 0 } });
    } finally {
      fetcher.stop();
    }
  });
});
