import { loadKubeconfigFile, type ClusterSpec } from '@meridian/discovery';
import type { ClusterConfig } from './config.ts';

/**
 * A configured cluster → what the cluster manager needs to read it. Asynchronous because
 * client-node is loaded only for Kubernetes clusters: manifest-only meshes start without it.
 */
export async function clusterSpecFor(cluster: ClusterConfig): Promise<ClusterSpec> {
  const network = cluster.network === undefined ? {} : { network: cluster.network };
  if (cluster.manifests !== undefined) {
    return { id: cluster.id, ...network, source: { type: 'manifests', directory: cluster.manifests }, origin: 'config' };
  }
  if (cluster.kubeconfig === 'in-cluster') {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    return { id: cluster.id, ...network, source: { type: 'kubernetes', kubeConfig }, origin: 'in-cluster' };
  }
  const kubeConfig = await loadKubeconfigFile(cluster.kubeconfig ?? '', cluster.context);
  return { id: cluster.id, ...network, source: { type: 'kubernetes', kubeConfig }, origin: 'config' };
}
