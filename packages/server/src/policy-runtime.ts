/**
 * The policy layer's running state: every cluster's configuration documents in one
 * PolicyStore, compiled into MeshPolicies after each change, reported in /debug/policyz, in
 * metrics and (each new problem once) in the log.
 */
import { PushReason, pushReason, type ClusterId, type ConfigKey, type ConfigDocument, type ConfigUpdater, type Logger, type MeshPolicies, type XdsUpdater } from '@meridian/model';
import { compileMeshPolicies, destinationRuleHosts, PolicyStore, refKey, type PolicyObject, type PolicyObjectOf, policyReport, ReportState, type CompiledMeshPolicies, type MeshPolicyOptions, type PolicyRef, type PolicyReportRow } from '@meridian/policy';
import { Gauge, type Registry } from 'prom-client';

export interface PolicyRuntimeOptions extends MeshPolicyOptions {
  /** The primary cluster, whose copies take precedence (then cluster ID order). */
  readonly primary?: string | undefined;
  readonly logger: Logger;
  /** Where the policy gauges are registered (the server's metrics registry). */
  readonly registry: Registry;
}

export class PolicyRuntime implements ConfigUpdater {
  private readonly store: PolicyStore;
  private readonly options: MeshPolicyOptions;
  private readonly logger: Logger;
  private compiled: CompiledMeshPolicies;
  private rows: PolicyReportRow[] = [];
  /** Problems already logged, so each is said once while it lasts. */
  private reported = new Set<string>();
  private updater: XdsUpdater | undefined;
  /** The objects in effect as of the last push, by refKey: what a change is compared with. */
  private readonly inEffect = new Map<string, PolicyObject>();

  constructor(options: PolicyRuntimeOptions) {
    this.store = new PolicyStore({ primary: options.primary });
    const { primary: _primary, logger: _logger, registry: _registry, ...compileOptions } = options;
    this.options = compileOptions;
    this.logger = options.logger.child({ component: 'policy' });
    this.compiled = compileMeshPolicies([], this.options);
    const counts = () => this.stateCounts();
    const conflicts = () => this.store.conflicts().length;
    new Gauge({
      name: 'meridian_policy_objects',
      help: 'Policy objects per source cluster by state (Accepted, PartiallyApplied, NotApplied, Rejected, Conflicted); see /debug/policyz.',
      labelNames: ['state'],
      registers: [options.registry],
      collect() {
        // Every state is reported, 0 included, so an alert on a state that disappears resolves.
        const byState = counts();
        for (const state of Object.values(ReportState)) this.set({ state }, byState.get(state) ?? 0);
      },
    });
    new Gauge({
      name: 'meridian_policy_conflicts',
      help: 'Policy objects whose copies differ across clusters (one applies by precedence); see /debug/policyz.',
      registers: [options.registry],
      collect() {
        this.set(conflicts());
      },
    });
  }

  /** Where a change is pushed, once compiled: keys of each changed object's kind. */
  setUpdater(updater: XdsUpdater): void {
    this.updater = updater;
  }

  /** What generators read: the policies in effect after precedence and compilation. */
  get policies(): MeshPolicies {
    return this.compiled.policies;
  }

  replaceConfig(cluster: ClusterId, documents: readonly ConfigDocument[]): void {
    const { changed } = this.store.replace(cluster, documents);
    this.refresh(cluster, changed);
  }

  removeConfig(cluster: ClusterId): void {
    const { changed } = this.store.removeCluster(cluster);
    this.refresh(cluster, changed);
  }

  /**
   * `/debug/policyz`: every object per source cluster with its state, the conflicts and hidden
   * routes, and the services ServiceEntries define (`served: false` where a cluster's Service
   * has the name, per `isClusterService`).
   */
  view(isClusterService: (hostname: string) => boolean = () => false): object {
    return {
      totals: Object.fromEntries(this.stateCounts()),
      objects: this.rows,
      conflicts: this.store.conflicts(),
      overlaps: this.compiled.overlaps,
      serviceEntries: this.compiled.policies.serviceEntries.map(({ service, endpoints, workloadSelector }) => ({
        hostname: service.hostname,
        ...service.entry,
        served: !isClusterService(service.hostname),
        ports: service.ports,
        addresses: service.addresses[''] ?? [],
        // A selecting entry's endpoints are found per push (/debug/endpointz shows them).
        ...(workloadSelector ? { workloadSelector: workloadSelector.labels } : { endpoints: endpoints.map((e) => `${e.address}:${e.port}`) }),
      })),
    };
  }

  private refresh(cluster: ClusterId, changed: readonly PolicyRef[]): void {
    // The push is asked for first, then compiled for: its debounce runs while the objects
    // compile (tens of ms for thousands of them), not after. The push itself starts on a
    // timer, after this returns, so it reads the compiled policies.
    if (changed.length > 0) {
      const configs = changed.map((ref) => this.changeKey(ref));
      this.updater?.configUpdate({ kind: 'full', configs, reasons: [pushReason(PushReason.Policy, cluster)] });
    }
    this.compiled = compileMeshPolicies(this.store.objects(), this.options);
    this.rows = policyReport(this.store.statuses(), this.compiled);
    this.logger.info({ cluster, changed: changed.length, objects: this.store.objects().length }, 'policy updated');
    const now = new Set<string>();
    for (const row of this.rows) {
      if (row.state === ReportState.Accepted) continue;
      for (const message of row.messages) {
        const key = `${row.cluster}|${row.origin}|${message}`;
        now.add(key);
        if (this.reported.has(key)) continue;
        const object = row.ref ? `${row.ref.kind}/${row.ref.namespace}/${row.ref.name}` : undefined;
        this.logger.warn({ cluster: row.cluster, origin: row.origin, object, state: row.state, reason: message }, 'policy not applied as written');
      }
    }
    this.reported = now;
  }

  /**
   * The push key of a changed object. A DestinationRule's names the hosts its old and new
   * versions name, so only their clusters and assignments are rebuilt.
   */
  private changeKey(ref: PolicyRef): ConfigKey {
    const key = refKey(ref);
    const before = this.inEffect.get(key);
    const after = this.store.get(ref);
    if (after) this.inEffect.set(key, after);
    else this.inEffect.delete(key);
    const { kind, namespace, name } = ref;
    if (kind !== 'DestinationRule') return { kind, namespace, name };
    const versions = [before, after] as Array<PolicyObjectOf<'DestinationRule'> | undefined>;
    const hosts = destinationRuleHosts(versions, this.options.domainSuffix);
    return { kind, namespace, name, ...(hosts ? { hosts } : {}) };
  }

  private stateCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const row of this.rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
    return counts;
  }
}
