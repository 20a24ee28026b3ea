/**
 * RBAC from behaviour: the real `meridian serve` (and `meridian check`, which an operator runs
 * in the pod) against API test servers that enforce exactly the rules of deploy/ for
 * Meridian's identities: the primary's `meridian` ServiceAccount and the remotes'
 * `meridian-reader`. Every call they make must be allowed, and every rule must be used.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CertificateClient, createCsr, workloadSpiffeId } from '@meridian/ca';
import { KubeApiServer, type PolicyBinding, type PolicyRule, type RequestRecord } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { SYSTEM_NAMESPACE, remoteSecret } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { POLICY_CRDS } from '../support/policy-crds.ts';
import { DEPLOY_DIR, build, type KubeManifest } from './kustomize.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The rules deploy/ grants a ServiceAccount: bound ClusterRoles everywhere, Roles in their namespace. */
function grantedRules(objects: KubeManifest[], serviceAccount: string): PolicyRule[] {
  const subjectOf = (b: KubeManifest) =>
    ((b['subjects'] as Array<{ kind: string; name: string; namespace: string }> | undefined) ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && s.namespace === SYSTEM_NAMESPACE);
  const rulesOf = (kind: string, name: string) => (objects.find((o) => o.kind === kind && o.metadata.name === name)?.['rules'] as Rule[] | undefined) ?? [];
  return objects.flatMap((b) => {
    if (!subjectOf(b)) return [];
    const ref = b['roleRef'] as { kind: string; name: string };
    if (b.kind === 'ClusterRoleBinding') return rulesOf(ref.kind, ref.name);
    if (b.kind === 'RoleBinding') return rulesOf(ref.kind, ref.name).map((r) => ({ ...r, namespaces: [b.metadata.namespace ?? ''] }));
    return [];
  });
}

/** One (verb, group, resource, namespace scope) a rule grants. */
const grantKey = (verb: string, group: string, resource: string, namespace: string | undefined) => `${verb} ${group || 'core'}/${resource}${namespace ? ` in ${namespace}` : ''}`;

function grants(rules: PolicyRule[]): string[] {
  return rules.flatMap((r) =>
    r.verbs.flatMap((v) => (r.apiGroups ?? ['']).flatMap((g) => r.resources.flatMap((res) => (r.namespaces ?? [undefined]).map((ns) => grantKey(v, g, res, ns))))),
  );
}

function allowedBy(rules: PolicyRule[], call: RequestRecord): PolicyRule | undefined {
  const resource = call.subresource ? `${call.resource}/${call.subresource}` : (call.resource ?? '');
  return rules.find(
    (r) =>
      r.verbs.includes(call.verb ?? '') &&
      (r.apiGroups ?? ['']).includes(call.group ?? '') &&
      r.resources.includes(resource) &&
      (r.namespaces === undefined || r.namespaces.includes(call.namespace ?? '')),
  );
}

/** Which grant a call used: namespaced rules by their namespace, cluster-wide ones without. */
function usedGrant(rule: PolicyRule, call: RequestRecord): string {
  return grantKey(call.verb ?? '', call.group ?? '', call.subresource ? `${call.resource}/${call.subresource}` : (call.resource ?? ''), rule.namespaces ? call.namespace : undefined);
}

const MERIDIAN = `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian`;
const READER = `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader`;
/** Rules that no run can show in use, with the reason they are granted anyway. */
const DOCUMENTED_UNUSED: Record<string, string> = {};

describe('RBAC in deploy/ equals what Meridian calls', () => {
  const primaryRules = grantedRules(build(path.join(DEPLOY_DIR, 'primary')), 'meridian');
  const readerRules = grantedRules(build(path.join(DEPLOY_DIR, 'remote')), 'meridian-reader');
  const ws = new Workspace();
  let primary: KubeApiServer;
  let remote: KubeApiServer;
  let meridian: MeridianProcess;
  let config = '';

  const policy = (user: string, rules: PolicyRule[]): PolicyBinding[] => [{ user, rules }];

  before(async () => {
    const workload = { username: 'system:serviceaccount:demo:echo', audiences: ['istio-ca'] };
    primary = await KubeApiServer.start({
      tokens: { 'meridian-token': { username: MERIDIAN }, 'workload-token': workload },
      authorization: policy(MERIDIAN, primaryRules),
      resources: POLICY_CRDS,
    });
    remote = await KubeApiServer.start({
      tokens: { 'reader-token': { username: READER }, 'workload-token': workload },
      authorization: policy(READER, readerRules),
      resources: POLICY_CRDS,
    });
    for (const api of [primary, remote]) {
      api.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM_NAMESPACE } });
      api.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    }
    primary.upsert(remoteSecret('remote-beta', { beta: remote.kubeconfigYaml({ token: 'reader-token' }) }));
    ws.write('primary.kubeconfig', primary.kubeconfigYaml({ token: 'meridian-token' }));
    config = ws.writeConfig({
      namespace: SYSTEM_NAMESPACE,
      clusters: [{ id: 'alpha', kubeconfig: './primary.kubeconfig', primary: true }],
      discovery: { readinessTimeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 500 } },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian.stop();
    await primary.close();
    await remote.close();
    ws.remove();
  });

  it('runs with exactly the deployed permissions: every call allowed, every rule used', async () => {
    type Clusterz = { clusters: Array<{ id: string; state: string; missingPermissions: string[] | null }> };
    await eventually(
      'both clusters synced with their permissions reviewed',
      async () => {
        const { body } = await meridian.getJson<Clusterz>('/debug/clusterz');
        const ok = ['alpha', 'beta'].every((id) => {
          const c = body.clusters.find((x) => x.id === id);
          return c?.state === 'Synced' && c.missingPermissions !== null;
        });
        return ok ? body : undefined;
      },
      15_000,
    ).then((body) => assert.deepEqual(body.clusters.map((c) => [c.id, c.missingPermissions]), [['alpha', []], ['beta', []]]));

    // The certificate API checks workload tokens by TokenReview in the caller's cluster.
    const rootPem = Buffer.from(await (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text());
    for (const clusterId of ['alpha', 'beta']) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const client = new CertificateClient({
        address: meridian.xdsTlsAddress,
        credentials: grpc.credentials.createSsl(rootPem),
        channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
      });
      try {
        const chain = await client.createCertificate({
          csr: createCsr({ key: privateKey, uris: [workloadSpiffeId('cluster.local', 'demo', 'echo')] }).pem,
          token: 'workload-token',
          validitySeconds: 3600,
          clusterId,
        });
        assert.ok(chain.length >= 2, `an SVID through TokenReview in ${clusterId}`);
      } finally {
        client.close();
      }
    }

    // `meridian check` from inside the pod runs with the same identity.
    const checked = await MeridianProcess.run(['check', '--config', config, '--output', 'json']);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);

    for (const [name, api, user, rules] of [
      ['primary', primary, MERIDIAN, primaryRules],
      ['remote', remote, READER, readerRules],
    ] as const) {
      const calls = api.requests({ user }).filter((r) => r.resource !== undefined && r.resource !== '');
      assert.ok(calls.length > 0);
      const refused = calls.filter((r) => r.status === 401 || r.status === 403);
      assert.deepEqual(refused.map((r) => `${r.verb} ${r.path}`), [], `${name}: nothing refused`);
      const used = new Set<string>();
      for (const call of calls) {
        const rule = allowedBy(rules, call);
        assert.ok(rule, `${name}: ${call.verb} ${call.group}/${call.resource} in ${call.namespace ?? '(cluster)'} is allowed by a rule`);
        used.add(usedGrant(rule, call));
      }
      const unused = grants(rules).filter((g) => !used.has(g) && !(g in DOCUMENTED_UNUSED));
      assert.deepEqual(unused, [], `${name}: every granted permission is used (observed: ${[...used].sort().join('; ')})`);
    }
  });
});
