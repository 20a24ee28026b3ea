/** The policy CRDs Meridian watches, as resource types the test API server can serve (as if installed). */
import { POLICY_RESOURCES } from '@meridian/discovery';
import type { ResourceType } from '@meridian/testkit';

export const POLICY_CRDS: readonly ResourceType[] = POLICY_RESOURCES.map((r) => ({
  group: r.group,
  version: r.version,
  resource: r.plural,
  singular: r.kind.toLowerCase(),
  kind: r.kind,
  listKind: `${r.kind}List`,
  namespaced: true,
  storage: 'stored',
}));
