/**
 * `/debug/policyz` `enforcement`: for each AuthorizationPolicy and RequestAuthentication in
 * effect, the workloads it selects in each cluster (endpoints by their labels) and whether
 * every connected proxy it applies to holds it: its listeners and routes (where the rules
 * travel) sent and ACKed, or NACKed and why. Read from the last push's snapshot and the ADS
 * connections, so it answers "is my policy enforced everywhere yet?" without a proxy's admin.
 */
import { policiesSelecting, type PolicySource, type WorkloadScoped } from '@meridian/model';
import { TYPE_SHORT_NAME, TypeUrl, type AdsServer, type PushSnapshot, type XdsConnection } from '@meridian/xds';

/** Where security policy reaches a proxy: its listeners (TCP rules, the JWT filter, gRPC RBAC) and routes (HTTP rules). */
const CARRIERS: readonly TypeUrl[] = [TypeUrl.Listener, TypeUrl.Route];
/** Proxies named per state at most; the counts are always complete. */
const LISTED = 20;

export interface PolicyEnforcement {
  readonly kind: 'AuthorizationPolicy' | 'RequestAuthentication';
  readonly policy: string;
  /** Selected endpoints per cluster. */
  readonly workloads: Readonly<Record<string, number>>;
  readonly proxies: {
    readonly total: number;
    readonly acked: number;
    /** Sent a newer version than they have ACKed yet (or not sent one yet). */
    readonly pending: readonly string[];
    readonly rejected: ReadonlyArray<{ readonly proxy: string; readonly type: string; readonly reason: string }>;
  };
}

export function enforcementView(snapshot: PushSnapshot, ads: AdsServer): PolicyEnforcement[] {
  const connections = ads.list();
  const workloads = snapshot.services.flatMap((s) => snapshot.endpoints(s.hostname).map((e) => ({ namespace: s.namespace, labels: e.labels ?? {}, cluster: e.cluster, address: e.address })));
  const entries: Array<{ kind: PolicyEnforcement['kind']; policy: WorkloadScoped & { source: PolicySource } }> = [
    ...(snapshot.policies?.authorization ?? []).map((policy) => ({ kind: 'AuthorizationPolicy' as const, policy })),
    ...(snapshot.policies?.requestAuthentication ?? []).map((policy) => ({ kind: 'RequestAuthentication' as const, policy })),
  ];
  return entries.map(({ kind, policy }) => {
    const selects = (w: { namespace: string; labels: Readonly<Record<string, string>> }) => policiesSelecting([policy], w).length > 0;
    const perCluster: Record<string, Set<string>> = {};
    for (const w of workloads) if (selects(w)) (perCluster[w.cluster] ??= new Set()).add(w.address);
    const selected = connections.filter((c) => selects(c.proxy));
    const pending: string[] = [];
    const rejected: Array<{ proxy: string; type: string; reason: string }> = [];
    let acked = 0;
    for (const c of selected) {
      const state = carrierState(c);
      if (state.ok) acked++;
      else if (state.rejected) rejected.push({ proxy: c.proxy.id, ...state.rejected });
      else pending.push(c.proxy.id);
    }
    return {
      kind,
      policy: `${policy.source.namespace}/${policy.source.name}`,
      workloads: Object.fromEntries(Object.entries(perCluster).map(([cluster, addresses]) => [cluster, addresses.size])),
      proxies: { total: selected.length, acked, pending: pending.slice(0, LISTED), rejected: rejected.slice(0, LISTED) },
    };
  });
}

function carrierState(c: XdsConnection): { ok: boolean; rejected?: { type: string; reason: string } } {
  for (const typeUrl of CARRIERS) {
    const w = c.watches.get(typeUrl);
    if (!w) continue;
    // A NACK of the latest version is a rejection; an older one was superseded.
    if (w.lastNack && w.lastNack.nonce === w.lastNonce) return { ok: false, rejected: { type: TYPE_SHORT_NAME[typeUrl], reason: w.lastNack.message } };
    if (w.lastNonce === undefined || w.ackedNonce !== w.lastNonce) return { ok: false };
  }
  return { ok: true };
}
