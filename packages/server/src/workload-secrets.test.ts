/**
 * WorkloadSecretStore with a real signer: certificates per connection for the proven
 * identity only, renewed, re-issued on a CA change, forgotten with the connection.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createAuthority, createSelfSignedRoot, SvidSigner } from '@meridian/ca';
import { silentLogger } from '@meridian/model';
import type { WorkloadCertificate } from '@meridian/xds';
import { issueWorkloadCertificate, WorkloadSecretStore } from './workload-secrets.ts';

const ECHO = 'spiffe://cluster.local/ns/demo/sa/echo';
const OTHER = 'spiffe://cluster.local/ns/demo/sa/other';

async function signer(ttlSeconds = 3600): Promise<SvidSigner> {
  const root = await createSelfSignedRoot({ trustDomain: 'cluster.local' });
  return new SvidSigner({ trustDomain: 'cluster.local', authority: createAuthority({ certDer: root.certDer, key: root.key }), defaultTtlSeconds: ttlSeconds, backdateSeconds: 0 });
}

/** A store whose changes are queued, so a test can wait for the next one. */
function store(issue: (identity: string) => Promise<WorkloadCertificate>, retryMs?: number) {
  const changes: string[] = [];
  let roots = 0;
  const waiters: Array<() => void> = [];
  const s = new WorkloadSecretStore({
    issue,
    rootsPem: () => 'ROOTS',
    onChange: (connection) => {
      changes.push(connection);
      waiters.splice(0).forEach((w) => w());
    },
    onRootsChange: () => roots++,
    logger: silentLogger(),
    ...(retryMs === undefined ? {} : { retryMs }),
  });
  const changed = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while (changes.length < count) {
      if (Date.now() > deadline) throw new Error(`${changes.length}/${count} changes within 10 s`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { s, changes, changed, roots: () => roots };
}

const identityOf = (cert: WorkloadCertificate | undefined) => (cert ? new X509Certificate(cert.certChainPem).subjectAltName : undefined);
const serialOf = (cert: WorkloadCertificate | undefined) => (cert ? new X509Certificate(cert.certChainPem).serialNumber : undefined);

describe('WorkloadSecretStore', () => {
  it('issues nothing to a connection without a proven identity', async () => {
    let issued = 0;
    const { s } = store(async () => {
      issued++;
      throw new Error('must not be called');
    });
    assert.equal(s.workloadCertificate({ connection: 'plain-1', identity: undefined }), undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(issued, 0);
  });

  it('issues per connection for its own identity, and forgets only the released one', async () => {
    const sign = await signer();
    const { s, changes, changed } = store((id) => issueWorkloadCertificate(sign, id));
    assert.equal(s.workloadCertificate({ connection: 'a-1', identity: ECHO }), undefined, 'not issued yet');
    assert.equal(s.workloadCertificate({ connection: 'a-2', identity: OTHER }), undefined);
    await changed(2);
    assert.deepEqual([...changes].sort(), ['a-1', 'a-2']);
    const first = s.workloadCertificate({ connection: 'a-1', identity: ECHO });
    assert.equal(identityOf(first), `URI:${ECHO}`);
    assert.match(first?.keyPem ?? '', /PRIVATE KEY/);
    assert.equal(identityOf(s.workloadCertificate({ connection: 'a-2', identity: OTHER })), `URI:${OTHER}`);
    // The identity is fixed when the connection first asks; a later claim cannot change it.
    assert.equal(identityOf(s.workloadCertificate({ connection: 'a-1', identity: OTHER })), `URI:${ECHO}`);

    s.release('a-2');
    assert.equal(serialOf(s.workloadCertificate({ connection: 'a-1', identity: ECHO })), serialOf(first));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([...changes].sort(), ['a-1', 'a-2'], 'releasing one connection changes nothing for the other');
    assert.deepEqual(s.view(), { connections: [{ connection: 'a-1', identity: ECHO, notAfter: new Date(new X509Certificate(first?.certChainPem ?? '').validTo).toISOString() }] });
    s.stop();
  });

  it('renews before expiry', async () => {
    const sign = await signer(1);
    const { s, changed } = store((id) => issueWorkloadCertificate(sign, id));
    s.workloadCertificate({ connection: 'r-1', identity: ECHO });
    await changed(1);
    const first = serialOf(s.workloadCertificate({ connection: 'r-1', identity: ECHO }));
    await changed(2);
    assert.notEqual(serialOf(s.workloadCertificate({ connection: 'r-1', identity: ECHO })), first, 'renewed');
    s.stop();
  });

  it('re-issues every certificate and announces new roots on a CA change', async () => {
    const sign = await signer();
    const { s, changes, changed, roots } = store((id) => issueWorkloadCertificate(sign, id));
    for (const connection of ['c-1', 'c-2']) s.workloadCertificate({ connection, identity: ECHO });
    await changed(2);
    const before = ['c-1', 'c-2'].map((connection) => serialOf(s.workloadCertificate({ connection, identity: ECHO })));
    s.authorityChanged();
    assert.equal(roots(), 1, 'every connection told of the roots at once');
    await changed(4);
    assert.deepEqual(changes.slice(2).sort(), ['c-1', 'c-2']);
    const after = ['c-1', 'c-2'].map((connection) => serialOf(s.workloadCertificate({ connection, identity: ECHO })));
    assert.ok(after.every((serial, i) => serial !== before[i]), 'each re-issued');
    s.stop();
  });

  it('retries a failed issuance, and drops one that finishes after the connection ended', async () => {
    const sign = await signer();
    let calls = 0;
    const { s, changes, changed } = store(async (id) => {
      if (++calls === 1) throw new Error('CA busy');
      return issueWorkloadCertificate(sign, id);
    }, 10);
    s.workloadCertificate({ connection: 'f-1', identity: ECHO });
    await changed(1);
    assert.equal(calls, 2);
    assert.equal(identityOf(s.workloadCertificate({ connection: 'f-1', identity: ECHO })), `URI:${ECHO}`);

    let finish: (cert: WorkloadCertificate) => void = () => undefined;
    const late = store(() => new Promise((resolve) => (finish = resolve)));
    late.s.workloadCertificate({ connection: 'gone-1', identity: ECHO });
    late.s.release('gone-1');
    finish(await issueWorkloadCertificate(sign, ECHO));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(late.changes, []);
    assert.equal(late.s.workloadCertificate({ connection: 'gone-1', identity: undefined }), undefined);
    assert.deepEqual(changes, ['f-1']);
    s.stop();
  });
});
