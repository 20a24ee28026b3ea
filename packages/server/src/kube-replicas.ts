/**
 * Meridian's replicas found through a kubeconfig, as `istioctl` finds istiod: the running pods
 * of its Deployment in its namespace, each read through the API server's pod proxy
 * (`…/pods/<pod>:<port>/proxy/<path>`), so no port-forward and no route to the pods is needed,
 * only `get` on `pods/proxy` there.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { DebugReader } from './debug-client.ts';

export interface KubeReplicaOptions {
  readonly kubeconfig: string;
  readonly context?: string;
  readonly namespace: string;
  /** The pods' label selector; the shipped manifests' by default. */
  readonly selector: string;
  /** Meridian's HTTP port in the pod. */
  readonly port: number;
}

/** A reader per running replica; an error naming the cluster and namespace when there is none. */
export async function kubeReplicaReaders(options: KubeReplicaOptions): Promise<DebugReader[]> {
  const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfig);
  if (options.context) kc.setCurrentContext(options.context);
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: options.namespace, labelSelector: options.selector });
  const running = pods.items.filter((p) => p.status?.phase === 'Running' && p.metadata?.name).map((p) => p.metadata?.name ?? '');
  if (running.length === 0) {
    throw new Error(`no running Meridian pod in namespace ${options.namespace} (selector ${options.selector}) of ${kc.getCurrentCluster()?.server ?? 'the cluster'}`);
  }
  return running.sort().map((pod) => podProxyReader(kc, options.namespace, pod, options.port));
}

function podProxyReader(kc: KubeConfig, namespace: string, pod: string, port: number): DebugReader {
  const prefix = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy`;
  return {
    base: `${namespace}/${pod}`,
    get: async <T>(path: string): Promise<T> => {
      const { status, body } = await apiGet(kc, `${prefix}${path}`);
      if (status < 200 || status >= 300) {
        let reason = body.trim().slice(0, 300);
        try {
          // Meridian's own error shape, or the API server's Status.
          const parsed = JSON.parse(body) as { error?: string; message?: string };
          reason = parsed.error ?? parsed.message ?? reason;
        } catch {
          // Not JSON: the text as it came.
        }
        throw new Error(`${path}: HTTP ${status}: ${reason}`);
      }
      return JSON.parse(body) as T;
    },
    ok: async (path: string): Promise<boolean> => {
      const { status } = await apiGet(kc, `${prefix}${path}`);
      return status >= 200 && status < 300;
    },
  };
}

/** A GET to the current cluster's API server with the kubeconfig's credentials (token, client certificate, CA). */
async function apiGet(kc: KubeConfig, path: string): Promise<{ status: number; body: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const options: https.RequestOptions = {
    method: 'GET',
    hostname: server.hostname,
    port: server.port || (server.protocol === 'https:' ? 443 : 80),
    path: `${server.pathname.replace(/\/$/, '')}${path}`,
    headers: { accept: 'application/json' },
    timeout: 10_000,
  };
  await kc.applyToHTTPSOptions(options);
  const transport = server.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${server.host} did not answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}
