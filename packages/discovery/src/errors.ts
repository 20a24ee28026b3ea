/** Stable codes of the discovery package's errors. */
export const DiscoveryErrorCode = {
  KubeconfigRejected: 'DISC_ERR_KUBECONFIG_REJECTED',
  KubeconfigInvalid: 'DISC_ERR_KUBECONFIG',
  ClusterExists: 'DISC_ERR_CLUSTER_EXISTS',
} as const;
export type DiscoveryErrorCode = (typeof DiscoveryErrorCode)[keyof typeof DiscoveryErrorCode];
