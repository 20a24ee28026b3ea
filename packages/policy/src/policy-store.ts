/**
 * Policy from every source cluster, merged by one precedence rule.
 *
 * Each cluster's objects are kept apart (as discovery keeps endpoints per cluster), each
 * with its last good version: a new version that fails validation is reported and the
 * previous one keeps applying. The merged view has one object per kind/namespace/name:
 *
 *   **Precedence**: the primary cluster's copy wins, then the copy of the cluster whose ID
 *   sorts first. Copies with the same content are one object, not a conflict. Copies that
 *   differ are a conflict: the winner applies, every loser is reported.
 *
 * A cluster that becomes unreachable keeps its objects (its source simply sends nothing
 * new); only `removeCluster`, when the cluster leaves the mesh, drops them.
 */
import { identifyDocument, refKey, validatePolicyDocument, type PolicyObject, type PolicyRef } from './policy-object.ts';

/** A document from a source: its parsed value and where it came from (`file.yaml#2`, `kube:<uid>`). */
export interface PolicyDocument {
  readonly value: unknown;
  readonly origin: string;
}

export const PolicyState = {
  /** Valid and in effect (possibly as one of several identical copies). */
  Accepted: 'Accepted',
  /** Invalid; `servingPrevious` says whether an earlier good version still applies. */
  Rejected: 'Rejected',
  /** Valid, but another cluster's different copy takes precedence. */
  Conflicted: 'Conflicted',
} as const;
export type PolicyState = (typeof PolicyState)[keyof typeof PolicyState];

export interface PolicyStatus {
  readonly ref: PolicyRef | undefined;
  readonly cluster: string;
  readonly origin: string;
  readonly state: PolicyState;
  readonly errors: readonly string[];
  /** Rejected: an earlier valid version of the object still applies. */
  readonly servingPrevious?: boolean;
  /** Conflicted: the cluster whose copy applies instead. */
  readonly overriddenBy?: string;
}

export interface PolicyConflict {
  readonly ref: PolicyRef;
  /** The cluster whose copy applies. */
  readonly winner: string;
  /** Clusters whose copy differs from the winner's and does not apply. */
  readonly losers: readonly string[];
}

/** What a store update changed in the merged view: the keys a push is for. */
export interface PolicyChanges {
  readonly changed: readonly PolicyRef[];
}

interface Held {
  readonly ref: PolicyRef;
  /** The document this was read from: a source handing the same document again (unchanged) is not validated again. */
  readonly document?: PolicyDocument;
  /** The last valid version, with its canonical form for comparing copies. */
  good?: { readonly object: PolicyObject; readonly canonical: string; readonly origin: string } | undefined;
  rejected?: { readonly errors: readonly string[]; readonly origin: string } | undefined;
}

interface Merged {
  readonly object: PolicyObject;
  readonly canonical: string;
  readonly cluster: string;
}

export interface PolicyStoreOptions {
  /** The primary cluster, whose copies win; others by cluster ID. */
  readonly primary?: string | undefined;
}

export class PolicyStore {
  private readonly primary: string | undefined;
  /** cluster → refKey → what that cluster holds. */
  private readonly clusters = new Map<string, Map<string, Held>>();
  /** Documents of ours whose identity could not be read, per cluster (reported, never applied). */
  private readonly unreadable = new Map<string, Array<{ readonly origin: string; readonly error: string }>>();
  private readonly merged = new Map<string, Merged>();

  constructor(options: PolicyStoreOptions = {}) {
    this.primary = options.primary;
  }

  /** Replaces everything `cluster` holds with `documents` (a manifest directory read, an informer relist). */
  replace(cluster: string, documents: readonly PolicyDocument[]): PolicyChanges {
    const before = this.clusters.get(cluster) ?? new Map<string, Held>();
    const after = new Map<string, Held>();
    const unreadable: Array<{ origin: string; error: string }> = [];
    for (const doc of documents) {
      const identity = identifyDocument(doc.value);
      if (identity === undefined) continue;
      if ('error' in identity) {
        unreadable.push({ origin: doc.origin, error: identity.error });
        continue;
      }
      const key = refKey(identity.ref);
      if (after.has(key)) {
        unreadable.push({ origin: doc.origin, error: `${key} appears twice in this cluster's sources; the first applies` });
        continue;
      }
      const previous = before.get(key);
      after.set(key, previous?.document === doc ? previous : this.accept(identity.ref, doc, previous?.good));
    }
    this.clusters.set(cluster, after);
    this.unreadable.set(cluster, unreadable);
    return this.remerge(new Set([...before.keys(), ...after.keys()]));
  }

  /** One object added or changed in `cluster` (an informer event). */
  upsert(cluster: string, document: PolicyDocument): PolicyChanges {
    const identity = identifyDocument(document.value);
    if (identity === undefined) return { changed: [] };
    if ('error' in identity) {
      const list = this.unreadable.get(cluster) ?? [];
      this.unreadable.set(cluster, [...list.filter((u) => u.origin !== document.origin), { origin: document.origin, error: identity.error }]);
      return { changed: [] };
    }
    const held = this.clusterMap(cluster);
    const key = refKey(identity.ref);
    held.set(key, this.accept(identity.ref, document, held.get(key)?.good));
    return this.remerge(new Set([key]));
  }

  /** One object deleted in `cluster`. */
  remove(cluster: string, ref: PolicyRef): PolicyChanges {
    const key = refKey(ref);
    if (!this.clusters.get(cluster)?.delete(key)) return { changed: [] };
    return this.remerge(new Set([key]));
  }

  /** `cluster` left the mesh: its objects no longer apply. */
  removeCluster(cluster: string): PolicyChanges {
    const held = this.clusters.get(cluster);
    this.clusters.delete(cluster);
    this.unreadable.delete(cluster);
    return this.remerge(new Set(held?.keys() ?? []));
  }

  /** The object in effect for `ref`, after precedence. */
  get(ref: PolicyRef): PolicyObject | undefined {
    return this.merged.get(refKey(ref))?.object;
  }

  /** Every object in effect, sorted by kind, namespace and name. */
  objects(): PolicyObject[] {
    return [...this.merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m.object);
  }

  /** Every object in effect whose copy came from `cluster`'s precedence, with its source cluster. */
  origins(): Array<{ readonly ref: PolicyRef; readonly cluster: string }> {
    return [...this.merged.values()].map((m) => ({ ref: refOf(m.object), cluster: m.cluster }));
  }

  /** Copies that differ across clusters: who wins, who loses. */
  conflicts(): PolicyConflict[] {
    const out: PolicyConflict[] = [];
    for (const [key, merged] of this.merged) {
      const losers = this.orderedClusters()
        .filter((c) => c !== merged.cluster)
        .filter((c) => {
          const good = this.clusters.get(c)?.get(key)?.good;
          return good !== undefined && good.canonical !== merged.canonical;
        });
      if (losers.length > 0) out.push({ ref: refOf(merged.object), winner: merged.cluster, losers });
    }
    return out.sort((a, b) => (refKey(a.ref) < refKey(b.ref) ? -1 : 1));
  }

  /** Every document of every cluster with its state, for /debug/policyz and `meridian analyze`. */
  statuses(): PolicyStatus[] {
    const out: PolicyStatus[] = [];
    for (const cluster of this.orderedClusters()) {
      for (const u of this.unreadable.get(cluster) ?? []) out.push({ ref: undefined, cluster, origin: u.origin, state: PolicyState.Rejected, errors: [u.error], servingPrevious: false });
      for (const [key, held] of this.clusters.get(cluster) ?? []) {
        if (held.rejected) {
          out.push({ ref: held.ref, cluster, origin: held.rejected.origin, state: PolicyState.Rejected, errors: held.rejected.errors, servingPrevious: held.good !== undefined });
          continue;
        }
        const good = held.good;
        if (!good) continue;
        const merged = this.merged.get(key);
        if (merged && merged.cluster !== cluster && merged.canonical !== good.canonical) {
          out.push({ ref: held.ref, cluster, origin: good.origin, state: PolicyState.Conflicted, errors: [`a different copy from cluster ${merged.cluster} takes precedence`], overriddenBy: merged.cluster });
        } else {
          out.push({ ref: held.ref, cluster, origin: good.origin, state: PolicyState.Accepted, errors: [] });
        }
      }
    }
    return out;
  }

  private accept(ref: PolicyRef, doc: PolicyDocument, previous: Held['good']): Held {
    const result = validatePolicyDocument(ref, doc.value as Record<string, unknown>);
    if (!result.ok) return { ref, document: doc, good: previous, rejected: { errors: result.errors, origin: doc.origin } };
    return { ref, document: doc, good: { object: result.value, canonical: canonicalOf(result.value), origin: doc.origin } };
  }

  private clusterMap(cluster: string): Map<string, Held> {
    let held = this.clusters.get(cluster);
    if (!held) this.clusters.set(cluster, (held = new Map()));
    return held;
  }

  /** Primary first, then by cluster ID: the precedence rule. */
  private orderedClusters(): string[] {
    return [...this.clusters.keys()].sort((a, b) => (a === this.primary ? -1 : b === this.primary ? 1 : a < b ? -1 : a > b ? 1 : 0));
  }

  private remerge(keys: ReadonlySet<string>): PolicyChanges {
    const order = this.orderedClusters();
    const changed: PolicyRef[] = [];
    for (const key of keys) {
      const before = this.merged.get(key);
      let winner: Merged | undefined;
      for (const cluster of order) {
        const good = this.clusters.get(cluster)?.get(key)?.good;
        if (good) {
          winner = { object: good.object, canonical: good.canonical, cluster };
          break;
        }
      }
      if (winner) this.merged.set(key, winner);
      else this.merged.delete(key);
      if (before?.canonical !== winner?.canonical) changed.push(refOf((winner ?? before)?.object as PolicyObject));
    }
    return { changed };
  }
}

function refOf(object: PolicyObject): PolicyRef {
  return { kind: object.kind, namespace: object.namespace, name: object.name };
}

/**
 * The content that makes two copies the same policy: spec, labels and annotations with
 * keys in a fixed order (a copy re-serialised by another tool is still the same copy).
 */
function canonicalOf(object: PolicyObject): string {
  return JSON.stringify({ spec: object.spec, labels: object.labels, annotations: object.annotations }, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}
