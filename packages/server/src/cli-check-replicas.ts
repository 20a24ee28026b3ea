/**
 * `meridian check --server A --server B`: Meridian itself, replica by replica, over its
 * HTTP port — running and ready, every replica seeing the same registry (digest), and the CA
 * signing certificate far enough from expiry — each problem with what to do about it.
 */
import { errorMessage } from '@meridian/model';
import type { DebugReader } from './debug-client.ts';

/** The signing certificate closer to expiry than this is a warning. */
export const CA_EXPIRY_WARNING_DAYS = 14;

export interface ReplicaCheck {
  readonly server: string;
  readonly replica: string | null;
  readonly version: string | null;
  readonly ready: boolean | null;
  readonly digest: string | null;
  readonly caNotAfter: string | null;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

async function checkReplica(reader: DebugReader, now: number): Promise<ReplicaCheck> {
  const { base, get } = reader;
  const errors: string[] = [];
  const warnings: string[] = [];
  let version: { version: string; replica: string } | undefined;
  try {
    version = await get<{ version: string; replica: string }>('/debug/version');
  } catch (err) {
    const message = errorMessage(err);
    const hint = /HTTP 40[13]/.test(message) ? '' : ' (is it running? --server takes its HTTP port, 15014)';
    return { server: base, replica: null, version: null, ready: null, digest: null, caNotAfter: null, errors: [`not reachable: ${message}${hint}`], warnings };
  }
  let ready: boolean | null = null;
  try {
    ready = await reader.ok('/readyz');
    if (!ready) errors.push('not ready: some cluster has not synced yet, or it is draining (see meridian status)');
  } catch (err) {
    errors.push(`/readyz: ${errorMessage(err)}`);
  }
  let digest: string | null = null;
  try {
    digest = (await get<{ digest: string }>('/debug/registryz?limit=1')).digest;
  } catch (err) {
    errors.push(`/debug/registryz: ${errorMessage(err)}`);
  }
  let caNotAfter: string | null = null;
  try {
    caNotAfter = (await get<{ signing: { notAfter: string } | null }>('/debug/ca')).signing?.notAfter ?? null;
    if (caNotAfter === null) errors.push('the CA has no signing certificate: workloads get none (see its log)');
    else {
      const days = (Date.parse(caNotAfter) - now) / 86_400_000;
      if (days < 0) errors.push(`the CA signing certificate expired on ${caNotAfter}: rotate it (docs/rotate-root.md)`);
      else if (days < CA_EXPIRY_WARNING_DAYS) warnings.push(`the CA signing certificate expires in ${Math.floor(days)} days (${caNotAfter}): rotate it (docs/rotate-root.md)`);
    }
  } catch (err) {
    errors.push(`/debug/ca: ${errorMessage(err)}`);
  }
  return { server: base, replica: version.replica, version: version.version, ready, digest, caNotAfter, errors, warnings };
}

/** Every replica checked, then compared: replicas that see different registries are each told so. */
export async function checkReplicas(readers: readonly DebugReader[], onDone?: (r: ReplicaCheck) => void): Promise<ReplicaCheck[]> {
  const now = Date.now();
  const checks = await Promise.all(
    readers.map(async (reader) => {
      const r = await checkReplica(reader, now);
      onDone?.(r);
      return r;
    }),
  );
  const digests = new Set(checks.flatMap((c) => (c.digest ? [c.digest] : [])));
  if (digests.size <= 1) return checks;
  return checks.map((c) =>
    c.digest
      ? { ...c, errors: [...c.errors, `replicas disagree on the registry (${digests.size} digests): one of them does not see every cluster or is behind; compare their /debug/clusterz`] }
      : c,
  );
}
