/** The two-cluster layout several Envoy tests share: a client pod in east, the echo pod in west. */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { EnvoyMesh, Workload } from '../support/envoy-mesh.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, serviceManifests, type PortSpec } from './manifests.ts';

export const ECHO_VIP = '10.96.0.20';
export const ECHO_HOST = 'echo.demo.svc.cluster.local';

/**
 * Meridian with strict mTLS over clusters east (us-east) and west (us-west); the echo Service
 * (ClusterIP ECHO_VIP, and `vip6` when given) in both, its one pod `echo-west-0` in west;
 * `sleep-east-0`, the client, in east. Both pods with their application and sidecar.
 */
export async function startEastToWest(mesh: EnvoyMesh, options: { ports: readonly PortSpec[]; vip6?: string }): Promise<{ client: Workload; server: Workload }> {
  const clientPod = mesh.bed.addPod('sleep-east-0');
  const serverPod = mesh.bed.addPod('echo-west-0');
  for (const [cluster, region, pod] of [['east', 'us-east', undefined], ['west', 'us-west', serverPod]] as const) {
    mkdirSync(mesh.ws.path(cluster));
    writeFileSync(mesh.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
    writeFileSync(
      mesh.ws.path(cluster, 'echo.yaml'),
      serviceManifests({
        name: 'echo', namespace: 'demo', vip: ECHO_VIP, ...(options.vip6 ? { vip6: options.vip6 } : {}), ports: options.ports, cluster,
        pods: pod ? [{ name: pod.name, address: pod.address, serviceAccount: 'echo' }] : [],
      }),
    );
  }
  await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
  const [server, client] = await Promise.all([
    mesh.sidecar(serverPod, { cluster: 'west', namespace: 'demo', serviceAccount: 'echo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS }),
    mesh.sidecar(clientPod, { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
  ]);
  return { client, server };
}
