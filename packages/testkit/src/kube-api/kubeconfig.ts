// Kubeconfigs pointing at a test server, in the two forms callers need: the
// client-node options object (for KubeConfig.loadFromOptions) and the YAML a
// kubeconfig file or remote secret holds.
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** Bearer token; omitted for anonymous access. */
  token?: string;
  /** Names of the cluster, user and context entries; default 'testkit'. */
  clusterName?: string;
  userName?: string;
  contextName?: string;
  /** Default namespace of the context. */
  namespace?: string;
}

/** The shape of KubeConfig.loadFromOptions, kept structural so callers need no client-node import. */
export interface KubeconfigObject {
  clusters: { name: string; server: string; skipTLSVerify: boolean }[];
  users: { name: string; token?: string }[];
  contexts: { name: string; cluster: string; user: string; namespace?: string }[];
  currentContext: string;
}

export function kubeconfigObject(server: string, options: KubeconfigOptions = {}): KubeconfigObject {
  const cluster = options.clusterName ?? 'testkit';
  const user = options.userName ?? cluster;
  const context = options.contextName ?? cluster;
  return {
    // client-node refuses an http:// server unless TLS verification is skipped.
    clusters: [{ name: cluster, server, skipTLSVerify: true }],
    users: [{ name: user, ...(options.token !== undefined ? { token: options.token } : {}) }],
    contexts: [{ name: context, cluster, user, ...(options.namespace !== undefined ? { namespace: options.namespace } : {}) }],
    currentContext: context,
  };
}

/** The same kubeconfig in file form (`insecure-skip-tls-verify` is how YAML spells skipTLSVerify). */
export function kubeconfigYaml(server: string, options: KubeconfigOptions = {}): string {
  const o = kubeconfigObject(server, options);
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: o.clusters.map((c) => ({ name: c.name, cluster: { server: c.server, 'insecure-skip-tls-verify': c.skipTLSVerify } })),
    users: o.users.map((u) => ({ name: u.name, user: u.token !== undefined ? { token: u.token } : {} })),
    contexts: o.contexts.map((c) => ({ name: c.name, context: { cluster: c.cluster, user: c.user, ...(c.namespace !== undefined ? { namespace: c.namespace } : {}) } })),
    'current-context': o.currentContext,
    preferences: {},
  });
}

export function makeKubeConfig(server: string, options: KubeconfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions(kubeconfigObject(server, options));
  return kc;
}
