// Discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>, /version): what
// clients read to learn which resources exist. Built from the resource table so
// they can never disagree with what the router serves.
import type { RequestInfo } from './request-info.ts';
import { SUBRESOURCES, verbsOf, type ResourceRegistry } from './resources.ts';
import { fail, ok, Statuses } from './status.ts';
import type { ApiResult } from './types.ts';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
}

export const DEFAULT_VERSION: VersionInfo = { major: '1', minor: '31', gitVersion: 'v1.31.0-meridian-testkit' };

export function versionDocument(v: VersionInfo): Record<string, string> {
  return {
    ...v,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.22.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function groupDoc(name: string, versions: readonly string[]): Record<string, unknown> {
  const vs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

function resourceList(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = registry.all().filter((rt) => rt.group === group && rt.version === version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const rt of types) {
    resources.push({
      name: rt.resource,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: [...verbsOf(rt)],
      ...(rt.shortNames ? { shortNames: [...rt.shortNames] } : {}),
    });
    for (const sub of SUBRESOURCES) {
      if (sub.parent !== rt.resource || sub.group !== rt.group) continue;
      resources.push({
        name: `${rt.resource}/${sub.name}`,
        singularName: '',
        namespaced: rt.namespaced,
        ...(sub.kindGroup ? { group: sub.kindGroup, version: 'v1' } : {}),
        kind: sub.kind,
        verbs: [...sub.verbs],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

export function discoveryDocument(registry: ResourceRegistry, info: Extract<RequestInfo, { kind: 'discovery' }>, serverAddress: string): ApiResult<unknown> {
  if (info.root === 'api' && info.version === undefined) {
    return ok({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
  }
  if (info.root === 'apis' && info.group === undefined) {
    const groups = [...registry.groups()].map(([name, versions]) => groupDoc(name, versions));
    return ok({ kind: 'APIGroupList', apiVersion: 'v1', groups });
  }
  if (info.version === undefined) {
    const versions = registry.groups().get(info.group ?? '');
    return versions ? ok({ kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(info.group ?? '', versions) }) : fail(Statuses.pathNotFound());
  }
  const list = resourceList(registry, info.group ?? '', info.version);
  return list ? ok(list) : fail(Statuses.pathNotFound());
}
