import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeconfigFile, type ClusterSpec } from '@meridian/discovery';
import type { ClusterConfig } from './config.ts';

/** A configured cluster → what the cluster manager needs to read it. */
export function clusterSpecFor(cluster: ClusterConfig): ClusterSpec {
  const network = cluster.network === undefined ? {} : { network: cluster.network };
  if (cluster.manifests !== undefined) {
    return { id: cluster.id, ...network, source: { type: 'manifests', directory: cluster.manifests }, origin: 'config' };
  }
  if (cluster.kubeconfig === 'in-cluster') {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    return { id: cluster.id, ...network, source: { type: 'kubernetes', kubeConfig }, origin: 'in-cluster' };
  }
  const kubeConfig = loadKubeconfigFile(cluster.kubeconfig ?? '', cluster.context);
  return { id: cluster.id, ...network, source: { type: 'kubernetes', kubeConfig }, origin: 'config' };
}
