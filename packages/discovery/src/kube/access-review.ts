import type { KubeConfig, V1ResourceRule } from '@kubernetes/client-node';
import { POLICY_RESOURCES } from './kube-policy-watch.ts';

/** What Meridian reads in every cluster: list and watch of these, cluster-wide (policy kinds included). */
export const REQUIRED_ACCESS: ReadonlyArray<{ group: string; resource: string }> = [
  { group: '', resource: 'services' },
  { group: '', resource: 'pods' },
  { group: '', resource: 'nodes' },
  { group: '', resource: 'namespaces' },
  { group: 'discovery.k8s.io', resource: 'endpointslices' },
  ...POLICY_RESOURCES.map((r) => ({ group: r.group, resource: r.plural })),
];
const VERBS = ['list', 'watch'];

/**
 * Asks the cluster what the credentials may do (SelfSubjectRulesReview) and returns what
 * is missing, as `list endpointslices.discovery.k8s.io`-style strings.
 */
export async function missingPermissions(kc: KubeConfig, namespace: string): Promise<string[]> {
  const { AuthorizationV1Api } = await import('@kubernetes/client-node');
  const api = kc.makeApiClient(AuthorizationV1Api);
  const review = await api.createSelfSubjectRulesReview({
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
  });
  const rules = review.status?.resourceRules ?? [];
  const missing: string[] = [];
  for (const { group, resource } of REQUIRED_ACCESS) {
    for (const verb of VERBS) {
      if (!rules.some((r) => allows(r, group, resource, verb))) missing.push(`${verb} ${group ? `${resource}.${group}` : resource}`);
    }
  }
  return missing;
}

function allows(rule: V1ResourceRule, group: string, resource: string, verb: string): boolean {
  const any = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);
  return any(rule.verbs, verb) && any(rule.apiGroups, group) && any(rule.resources, resource) && (rule.resourceNames ?? []).length === 0;
}
