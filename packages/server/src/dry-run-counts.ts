/**
 * How many requests each dry-run AuthorizationPolicy would have denied, read back from the
 * sidecars that hold it: Envoy counts them under its RBAC filters' shadow rules
 * (`…rbac.istio_dry_run_deny_.shadow_denied`, and `…istio_dry_run_allow_…` for a dry-run
 * ALLOW), and serves them at its stats port (`/stats/prometheus` on 15090, as Istio's sidecars
 * do). Only sidecars a dry-run policy selects are read, every `intervalMs`. Envoy counts per
 * workload and stage, not per policy: when several dry-run policies of one action select a
 * workload, each is credited with the workload's whole count (an upper bound, said in the view).
 * Counters start again when a sidecar restarts.
 */
import { AuthzAction, errorMessage, ProxyType, type AuthzPolicy, type Logger } from '@meridian/model';
import type { AdsServer, PushSnapshot } from '@meridian/xds';
import { Gauge, type Registry } from 'prom-client';

export interface DryRunCounterOptions {
  readonly ads: AdsServer;
  readonly snapshot: () => PushSnapshot;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly registry: Registry;
  /** The sidecars' stats port (Istio's 15090). */
  readonly port?: number;
}

interface ProxyCounts {
  readonly deny: number;
  readonly allow: number;
  readonly at: number;
}

export interface DryRunPolicyView {
  readonly policy: string;
  readonly action: string;
  /** Requests it would have denied, summed over the sidecars read. */
  readonly wouldDeny: number;
  readonly proxiesRead: number;
  readonly proxiesUnread: number;
  /** Other dry-run policies of the same action sharing a workload with it: the count is theirs too. */
  readonly sharedWith: readonly string[];
}

/** Parallel reads at most: a mesh of thousands of sidecars is read a slice at a time. */
const CONCURRENCY = 16;

export class DryRunCounter {
  private readonly options: DryRunCounterOptions;
  private readonly logger: Logger;
  private readonly counts = new Map<string, ProxyCounts>();
  private readonly failures = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private lastRound: number | undefined;

  constructor(options: DryRunCounterOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'dry-run' });
    const view = () => this.view();
    new Gauge({
      name: 'meridian_policy_dry_run_would_deny',
      help: 'Requests a dry-run AuthorizationPolicy would have denied, read from the sidecars it selects (see /debug/policyz dryRun).',
      labelNames: ['policy'],
      registers: [options.registry],
      collect() {
        this.reset();
        for (const p of view().policies) this.set({ policy: p.policy }, p.wouldDeny);
      },
    });
  }

  start(): void {
    if (this.options.intervalMs <= 0) return;
    const tick = async () => {
      await this.readAll().catch((err: unknown) => this.logger.warn({ reason: errorMessage(err) }, 'reading dry-run counts failed'));
      if (this.timer !== undefined) {
        this.timer = setTimeout(() => void tick(), this.options.intervalMs);
        this.timer.unref();
      }
    };
    this.timer = setTimeout(() => void tick(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** `/debug/policyz` `dryRun`: per dry-run policy, what it would have denied. */
  view(): { readonly lastRound: string | null; readonly policies: readonly DryRunPolicyView[]; readonly unread: Readonly<Record<string, string>> } {
    const snapshot = this.options.snapshot();
    const dryRun = (snapshot.policies?.authorization ?? []).filter((p) => p.dryRun);
    // Each sidecar's policies once: the view (and every metrics scrape) reads them per dry-run policy.
    const sidecars = this.options.ads
      .list()
      .filter((c) => c.proxy.type === ProxyType.Sidecar)
      .map((c) => ({ id: c.proxy.id, policies: snapshot.authorizationFor(c.proxy) }));
    const policies = dryRun.map((p): DryRunPolicyView => {
      const selected = sidecars.filter((c) => c.policies.includes(p));
      const read = selected.flatMap((c) => {
        const counts = this.counts.get(c.id);
        return counts ? [counts] : [];
      });
      const sharing = new Set<string>();
      for (const c of selected) for (const other of c.policies) if (other !== p && other.dryRun && other.action === p.action) sharing.add(name(other));
      return {
        policy: name(p),
        action: p.action,
        wouldDeny: read.reduce((n, c) => n + (p.action === AuthzAction.Deny ? c.deny : c.allow), 0),
        proxiesRead: read.length,
        proxiesUnread: selected.length - read.length,
        sharedWith: [...sharing].sort(),
      };
    });
    return { lastRound: this.lastRound ? new Date(this.lastRound).toISOString() : null, policies, unread: Object.fromEntries(this.failures) };
  }

  /** One round: every sidecar a dry-run policy selects, read. */
  async readAll(): Promise<void> {
    const snapshot = this.options.snapshot();
    const targets = this.options.ads
      .list()
      .filter((c) => c.proxy.type === ProxyType.Sidecar && c.proxy.ipAddresses.length > 0 && snapshot.authorizationFor(c.proxy).some((p: AuthzPolicy) => p.dryRun));
    const wanted = new Set(targets.map((c) => c.proxy.id));
    for (const id of [...this.counts.keys()]) if (!wanted.has(id)) this.counts.delete(id);
    this.failures.clear();
    for (let i = 0; i < targets.length; i += CONCURRENCY) {
      await Promise.all(
        targets.slice(i, i + CONCURRENCY).map(async (c) => {
          const address = c.proxy.ipAddresses[0] ?? '';
          try {
            this.counts.set(c.proxy.id, { ...(await this.readProxy(address)), at: Date.now() });
          } catch (err) {
            this.failures.set(c.proxy.id, `${address}:${this.options.port ?? 15090}: ${errorMessage(err)}`);
          }
        }),
      );
    }
    this.lastRound = Date.now();
  }

  private async readProxy(address: string): Promise<{ deny: number; allow: number }> {
    const host = address.includes(':') ? `[${address}]` : address;
    const res = await fetch(`http://${host}:${this.options.port ?? 15090}/stats/prometheus`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return shadowDenials(await res.text());
  }
}

function name(p: AuthzPolicy): string {
  return `${p.source.namespace}/${p.source.name}`;
}

/**
 * The dry-run stages' shadow denials in Envoy's Prometheus text, summed over the sidecar's
 * HTTP chains. Envoy may keep the stage's prefix in the metric name or move it into a label;
 * either way the sample's line names both.
 */
export function shadowDenials(text: string): { deny: number; allow: number } {
  let deny = 0;
  let allow = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('shadow_denied')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    if (line.includes('istio_dry_run_deny_')) deny += value;
    else if (line.includes('istio_dry_run_allow_')) allow += value;
  }
  return { deny, allow };
}
