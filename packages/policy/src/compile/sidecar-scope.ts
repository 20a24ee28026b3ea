/**
 * Sidecars as egress scopes: which services the proxies a Sidecar selects are sent. Istio's
 * selection: a Sidecar with a `workloadSelector` matching the workload in its namespace, else
 * the namespace's Sidecar without one, else the root namespace's (the mesh default). Of
 * several candidates the first by name applies, and the others are reported. Its
 * `outboundTrafficPolicy` says what becomes of connections to destinations the mesh does not
 * know: passed through (ALLOW_ANY, the default) or dropped (REGISTRY_ONLY).
 */
import type { EgressScope } from '@meridian/model';
import type { PolicyObjectOf, PolicyRef } from '../policy-object.ts';
import { ProblemSeverity, type CompileProblem } from './problems.ts';

interface ScopeEntry {
  readonly ref: PolicyRef;
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly scope: EgressScope;
}

export class SidecarScopes {
  private readonly byNamespace = new Map<string, ScopeEntry[]>();
  private readonly rootNamespace: string;

  constructor(sidecars: ReadonlyArray<PolicyObjectOf<'Sidecar'>>, rootNamespace: string, problems: CompileProblem[]) {
    this.rootNamespace = rootNamespace;
    for (const sc of [...sidecars].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const ref = { kind: sc.kind, namespace: sc.namespace, name: sc.name };
      const part = (path: string, message: string) => problems.push({ ref, path, message, severity: ProblemSeverity.Part });
      if (sc.spec.ingress?.length) part('spec.ingress', 'ingress listeners are not applied: inbound traffic is configured from the workload\'s services');
      sc.spec.egress?.forEach((e, i) => {
        if (e.port || e.bind || e.captureMode) part(`spec.egress[${i}]`, 'port, bind and captureMode are not applied: the hosts are visible on every port');
      });
      // Without `egress` a Sidecar limits nothing there (Istio's default: every namespace).
      const egress = sc.spec.egress ?? [{ hosts: ['*/*'] }];
      const hosts = egress.flatMap((e) =>
        e.hosts.flatMap((text) => {
          const slash = text.indexOf('/');
          const ns = text.slice(0, slash);
          // `~/…` imports nothing; `./…` is the Sidecar's own namespace.
          return ns === '~' ? [] : [{ namespace: ns === '.' ? sc.namespace : ns, host: text.slice(slash + 1) }];
        }),
      );
      const registryOnly = sc.spec.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY';
      const entry: ScopeEntry = { ref, selector: sc.spec.workloadSelector?.labels, scope: { source: { ...ref, path: 'spec.egress' }, hosts, ...(registryOnly ? { registryOnly } : {}) } };
      const list = this.byNamespace.get(sc.namespace) ?? [];
      if (!entry.selector && list.some((e) => !e.selector)) {
        problems.push({ ref, path: 'spec', message: `another Sidecar without a workloadSelector in ${sc.namespace} sorts first and applies`, severity: ProblemSeverity.Error });
        continue;
      }
      list.push(entry);
      this.byNamespace.set(sc.namespace, list);
    }
  }

  egressFor(workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }): EgressScope | undefined {
    const own = this.byNamespace.get(workload.namespace) ?? [];
    const selecting = own.find((e) => e.selector && Object.entries(e.selector).every(([k, v]) => workload.labels[k] === v));
    const chosen = selecting ?? own.find((e) => !e.selector) ?? this.byNamespace.get(this.rootNamespace)?.find((e) => !e.selector);
    return chosen?.scope;
  }
}
