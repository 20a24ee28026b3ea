import type { KubeConfig } from '@kubernetes/client-node';
import { MeridianError, errorMessage } from '@meridian/model';
import { parse as parseYaml } from 'yaml';
import { DiscoveryErrorCode } from '../errors.ts';

/**
 * What a kubeconfig from a remote secret may do. Anyone who can write a Secret in
 * Meridian's namespace chooses its contents, so by default it may not run programs on
 * Meridian's host (`exec`, auth providers) or read Meridian's files (token files,
 * certificate paths).
 */
export interface KubeconfigPolicy {
  readonly allowExec: boolean;
  readonly allowAuthProviders: boolean;
  readonly allowFileReferences: boolean;
}

export const STRICT_KUBECONFIG_POLICY: KubeconfigPolicy = {
  allowExec: false,
  allowAuthProviders: false,
  allowFileReferences: false,
};

const USER_FILE_FIELDS = ['tokenFile', 'token-file', 'client-certificate', 'client-key'];
const CLUSTER_FILE_FIELDS = ['certificate-authority'];

/** Every field of `text` the policy forbids, as `users[0].user.exec`-style paths. */
export function kubeconfigViolations(text: string, policy: KubeconfigPolicy): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return [`(document): not valid YAML: ${errorMessage(err).split('\n')[0]}`];
  }
  if (!doc || typeof doc !== 'object') return ['(document): not a kubeconfig'];
  const { users, clusters } = doc as { users?: unknown; clusters?: unknown };
  const out: string[] = [];
  asArray(users).forEach((entry, i) => {
    const user = (entry as { user?: Record<string, unknown> } | null)?.user ?? {};
    if (!policy.allowExec && user['exec'] !== undefined) out.push(`users[${i}].user.exec: exec plugins are not allowed`);
    if (!policy.allowAuthProviders && user['auth-provider'] !== undefined) {
      out.push(`users[${i}].user.auth-provider: auth providers are not allowed`);
    }
    if (!policy.allowFileReferences) {
      for (const f of USER_FILE_FIELDS) if (user[f] !== undefined) out.push(`users[${i}].user.${f}: local file references are not allowed`);
    }
  });
  asArray(clusters).forEach((entry, i) => {
    const cluster = (entry as { cluster?: Record<string, unknown> } | null)?.cluster ?? {};
    if (!policy.allowFileReferences) {
      for (const f of CLUSTER_FILE_FIELDS) if (cluster[f] !== undefined) out.push(`clusters[${i}].cluster.${f}: local file references are not allowed`);
    }
  });
  return out;
}

/** Loads a kubeconfig held as text (a remote secret's value), enforcing the policy. */
export async function loadKubeconfigText(text: string, policy: KubeconfigPolicy, context?: string): Promise<KubeConfig> {
  const violations = kubeconfigViolations(text, policy);
  if (violations.length > 0) {
    throw new MeridianError(DiscoveryErrorCode.KubeconfigRejected, `kubeconfig rejected: ${violations.join('; ')}`);
  }
  const kc = await newKubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new MeridianError(DiscoveryErrorCode.KubeconfigInvalid, `kubeconfig invalid: ${errorMessage(err)}`, { cause: err });
  }
  selectContext(kc, context);
  if (!kc.getCurrentCluster()) throw new MeridianError(DiscoveryErrorCode.KubeconfigInvalid, 'kubeconfig has no current cluster');
  return kc;
}

/** Loads a kubeconfig file named in Meridian's own config (trusted: no policy applies). */
export async function loadKubeconfigFile(file: string, context?: string): Promise<KubeConfig> {
  const kc = await newKubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new MeridianError(DiscoveryErrorCode.KubeconfigInvalid, `cannot load kubeconfig ${file}: ${errorMessage(err)}`, { cause: err });
  }
  selectContext(kc, context);
  if (!kc.getCurrentCluster()) throw new MeridianError(DiscoveryErrorCode.KubeconfigInvalid, `kubeconfig ${file} has no current cluster`);
  return kc;
}

/** client-node is loaded on first use: a mesh without Kubernetes clusters never pays for it. */
async function newKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  return new KubeConfig();
}

function selectContext(kc: KubeConfig, context: string | undefined): void {
  if (!context) return;
  if (!kc.getContexts().some((c) => c.name === context)) {
    throw new MeridianError(DiscoveryErrorCode.KubeconfigInvalid, `kubeconfig has no context "${context}"`);
  }
  kc.setCurrentContext(context);
}

/** The `exp` of a bearer token that is a JWT, for credential-expiry reports. */
export function tokenExpiry(kc: KubeConfig): Date | undefined {
  const token = kc.getCurrentUser()?.token;
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp?: unknown };
    return typeof exp === 'number' ? new Date(exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
