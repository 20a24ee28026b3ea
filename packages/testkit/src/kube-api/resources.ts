// The resource types the server knows, as data. Routing, discovery, authorization
// and storage all read this one table, so adding a kind (or a CRD-like type via
// the `resources` option) needs no code anywhere else.
import type { Verb } from './types.ts';

export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Plural, lower-case: what appears in URLs and RBAC rules. */
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames?: readonly string[];
  /** Stored kinds serve CRUD + list/watch; virtual ones (reviews) only accept create. */
  storage: 'stored' | 'virtual';
  /** Whether DELETE answers with the deleted object (pods, services) or a Status. */
  returnDeletedObject?: boolean;
}

const STORED_VERBS: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function verbsOf(rt: ResourceType): readonly Verb[] {
  return rt.storage === 'stored' ? STORED_VERBS : ['create'];
}

export function apiVersionOf(rt: { group: string; version: string }): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** The identity used as a map key and in the request log: `services` or `endpointslices.discovery.k8s.io`. */
export function groupResource(rt: { group: string; resource: string }): string {
  return rt.group ? `${rt.resource}.${rt.group}` : rt.resource;
}

function core(resource: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType {
  return {
    group: '',
    version: 'v1',
    resource,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    storage: 'stored',
    ...extra,
  };
}

export const BUILTIN_RESOURCES: readonly ResourceType[] = [
  core('namespaces', 'Namespace', false, { shortNames: ['ns'] }),
  core('nodes', 'Node', false, { shortNames: ['no'] }),
  core('pods', 'Pod', true, { shortNames: ['po'], returnDeletedObject: true }),
  core('services', 'Service', true, { shortNames: ['svc'], returnDeletedObject: true }),
  core('endpoints', 'Endpoints', true, { singular: 'endpoints', shortNames: ['ep'] }),
  core('secrets', 'Secret', true),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    resource: 'endpointslices',
    singular: 'endpointslice',
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    namespaced: true,
    storage: 'stored',
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resource: 'tokenreviews',
    singular: 'tokenreview',
    kind: 'TokenReview',
    listKind: 'TokenReviewList',
    namespaced: false,
    storage: 'virtual',
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectrulesreviews',
    singular: 'selfsubjectrulesreview',
    kind: 'SelfSubjectRulesReview',
    listKind: 'SelfSubjectRulesReviewList',
    namespaced: false,
    storage: 'virtual',
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    singular: 'selfsubjectaccessreview',
    kind: 'SelfSubjectAccessReview',
    listKind: 'SelfSubjectAccessReviewList',
    namespaced: false,
    storage: 'virtual',
  },
];

/** Subresources the server implements, advertised in discovery. */
export const SUBRESOURCES: readonly { parent: string; group: string; name: string; kind: string; verbs: readonly Verb[]; kindGroup?: string }[] = [
  { parent: 'serviceaccounts', group: '', name: 'token', kind: 'TokenRequest', verbs: ['create'], kindGroup: 'authentication.k8s.io' },
  { parent: 'services', group: '', name: 'status', kind: 'Service', verbs: ['get', 'patch', 'update'] },
  { parent: 'pods', group: '', name: 'status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
  { parent: 'nodes', group: '', name: 'status', kind: 'Node', verbs: ['get', 'patch', 'update'] },
  { parent: 'namespaces', group: '', name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] },
];

/** Looks resource types up by URL coordinates and by apiVersion/kind. */
export class ResourceRegistry {
  readonly #byPath = new Map<string, ResourceType>();
  readonly #byKind = new Map<string, ResourceType>();
  readonly #all: ResourceType[] = [];

  constructor(types: readonly ResourceType[]) {
    for (const rt of types) {
      this.#byPath.set(`${rt.group}/${rt.version}/${rt.resource}`, rt);
      this.#byKind.set(`${apiVersionOf(rt)}/${rt.kind}`, rt);
      this.#all.push(rt);
    }
  }

  byPath(group: string, version: string, resource: string): ResourceType | undefined {
    return this.#byPath.get(`${group}/${version}/${resource}`);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.#byKind.get(`${apiVersion}/${kind}`);
  }

  all(): readonly ResourceType[] {
    return this.#all;
  }

  /** Group → versions, in registration order; the core group is left out (it lives under /api). */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const rt of this.#all) {
      if (!rt.group) continue;
      const versions = groups.get(rt.group) ?? [];
      if (!versions.includes(rt.version)) versions.push(rt.version);
      groups.set(rt.group, versions);
    }
    return groups;
  }
}
