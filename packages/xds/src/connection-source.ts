import type { ProxyNode, PushRequest } from '@meridian/model';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import { secretResources, type SecretSource, type SecretSubject } from './sds.ts';
import { TypeUrl } from './type-url.ts';

/**
 * What one ADS connection is served, chosen by type (go-control-plane's MuxCache idea): the
 * mesh's resources from the shared source, and its own secrets, which no other connection
 * can reach whatever node id or resource names it sends. Secret changes never travel as mesh
 * pushes: the source that issued them asks the server to refresh this connection alone.
 */
export function connectionSource(mesh: ResourceSource, secrets: SecretSource | undefined, subject: SecretSubject): ResourceSource {
  return {
    generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
      if (typeUrl !== TypeUrl.Secret) return mesh.generate(typeUrl, proxy, names);
      if (!secrets) return [];
      const all = secretResources(secrets.workloadCertificate(subject), secrets.rootsPem());
      return names === undefined ? all : all.filter((r) => names.has(r.name));
    },
    affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean {
      return typeUrl !== TypeUrl.Secret && mesh.affects(request, typeUrl, proxy, name);
    },
    invalidate: (request) => mesh.invalidate(request),
  };
}
