/**
 * PeerAuthentication compiled: the mTLS mode of each workload port. The most specific policy
 * wins, field by field as upstream defines it — a port-level mode of a workload policy, then
 * the workload policy's mode, then the namespace's, then the mesh-wide one (in the root
 * namespace), then Meridian's configured default. `UNSET` inherits from the next level.
 * Several policies at one level (upstream: the oldest wins) are ordered by name here, and
 * every one that is hidden is reported.
 */
import type { PeerAuthentications, PeerMtlsDecision, PeerMtlsMode } from '@meridian/model';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';
import type { PolicyObjectOf } from '../policy-object.ts';

type PeerAuthentication = PolicyObjectOf<'PeerAuthentication'>;

export interface PeerAuthenticationOptions {
  readonly rootNamespace: string;
  /** The mesh default when no policy decides (Meridian's `mtls.mode`). */
  readonly defaultMode: PeerMtlsMode;
}

export function compilePeerAuthentications(
  objects: readonly PeerAuthentication[],
  options: PeerAuthenticationOptions,
): { readonly peerAuthentications: PeerAuthentications; readonly problems: CompileProblem[] } {
  const problems: CompileProblem[] = [];
  const sorted = [...objects].sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
  const selects = (p: PeerAuthentication) => Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
  const meshWide = sorted.filter((p) => p.namespace === options.rootNamespace && !selects(p));
  const byNamespace = new Map<string, PeerAuthentication[]>();
  for (const p of sorted) if (!selects(p) && p.namespace !== options.rootNamespace) byNamespace.set(p.namespace, [...(byNamespace.get(p.namespace) ?? []), p]);
  const hidden = (list: readonly PeerAuthentication[], scope: string) => {
    for (const p of list.slice(1)) {
      const [winner] = list;
      problems.push({ ref: refOf(p), path: 'spec', message: `${scope} has several PeerAuthentications; ${winner?.namespace}/${winner?.name} applies, this one does not`, severity: ProblemSeverity.Warning });
    }
  };
  hidden(meshWide, 'the mesh');
  for (const [ns, list] of byNamespace) hidden(list, `namespace ${ns}`);
  const workloadPolicies = sorted.filter(selects);

  const modeOf = (p: PeerAuthentication | undefined, port?: number): PeerMtlsDecision | undefined => {
    if (!p) return undefined;
    const portMode = port === undefined ? undefined : p.spec.portLevelMtls?.[String(port)]?.mode;
    const mode = portMode && portMode !== 'UNSET' ? portMode : p.spec.mtls?.mode;
    if (!mode || mode === 'UNSET') return undefined;
    return { mode, source: { ...refOf(p), path: portMode && portMode !== 'UNSET' ? `spec.portLevelMtls["${port}"]` : 'spec.mtls' } };
  };

  const peerAuthentications: PeerAuthentications = {
    modeFor(workload, port) {
      const workloadPolicy = workloadPolicies.find(
        (p) => p.namespace === workload.namespace && Object.entries(p.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v),
      );
      return (
        modeOf(workloadPolicy, port) ??
        modeOf(byNamespace.get(workload.namespace)?.[0]) ??
        modeOf(meshWide[0]) ?? { mode: options.defaultMode }
      );
    },
  };
  return { peerAuthentications, problems };
}

function refOf(p: PeerAuthentication): { kind: 'PeerAuthentication'; namespace: string; name: string } {
  return { kind: p.kind, namespace: p.namespace, name: p.name };
}

