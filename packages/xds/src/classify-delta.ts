/**
 * What a DeltaDiscoveryRequest means, decided from the request and the stream's state for its
 * type alone (the delta counterpart of `classify.ts`). Per the xDS transport protocol
 * (incremental variant):
 *  - initial: the first request for the type on this stream. `initial_resource_versions` says
 *    what the client already has (a reconnect); only resources whose version differs are sent,
 *    and names it has that no longer exist are removed.
 *  - subscription: no `response_nonce`; only a change of interest.
 *  - ack / nack: `response_nonce` names a response we sent; `error_detail` makes it a NACK.
 *    Unlike SotW, every delta response is (N)ACKed on its own, so an older outstanding nonce
 *    is still an answer for that response (`latest` tells whether it is the newest).
 *  - stale: a nonce we do not know (an older stream's, or one long forgotten); its
 *    subscription changes still count.
 * Whatever the kind, a response carries only resources whose version differs from what the
 * client has, plus `mustSend`, plus removals; so `respond` only says whether to look.
 * Subscription rules:
 *  - wildcard only for LDS/CDS: explicitly with `*`, or (legacy) an initial request that
 *    subscribes to nothing. The legacy wildcard ends as soon as names are subscribed without
 *    `*`; an explicit `*` lasts until `*` is unsubscribed. For other types `*` is ignored.
 *  - every name in `resource_names_subscribe` is answered even if we believe the client has
 *    it (it may have dropped it and regained interest), except on the initial request, where
 *    `initial_resource_versions` tells exactly what it has.
 *  - unsubscribing sends nothing.
 */
export const DeltaRequestKind = {
  Initial: 'initial',
  Subscription: 'subscription',
  Ack: 'ack',
  Nack: 'nack',
  Stale: 'stale',
} as const;
export type DeltaRequestKind = (typeof DeltaRequestKind)[keyof typeof DeltaRequestKind];

export const WILDCARD = '*';

export interface DeltaTypeStreamState {
  /** Subscribed to everything of the type (explicitly or by the legacy rule). */
  readonly wildcard: boolean;
  /** The wildcard came from the legacy rule (an initial request with no names). */
  readonly legacyWildcard: boolean;
  /** Names subscribed explicitly (besides any wildcard). */
  readonly names: ReadonlySet<string>;
  /** Nonce of the newest response sent for the type on this stream, if any. */
  readonly lastNonce: string | undefined;
  /** Whether a nonce is one of ours still waiting for its (N)ACK. */
  isOutstanding(nonce: string): boolean;
}

export interface DeltaRequestView {
  readonly resource_names_subscribe: readonly string[];
  readonly resource_names_unsubscribe: readonly string[];
  readonly initial_resource_versions?: Readonly<Record<string, string>> | null | undefined;
  readonly response_nonce: string;
  readonly error_detail?: { readonly code?: number; readonly message?: string } | null | undefined;
}

export interface DeltaClassification {
  readonly kind: DeltaRequestKind;
  /** For an ACK/NACK: whether it answers the newest response of the type. */
  readonly latest: boolean;
  readonly wildcard: boolean;
  readonly legacyWildcard: boolean;
  /** Explicit subscription after this request. */
  readonly names: ReadonlySet<string>;
  /** Names to send even if the client seems to have their current version. */
  readonly mustSend: readonly string[];
  /** Names dropped from the explicit subscription by this request. */
  readonly unsubscribed: readonly string[];
  readonly wildcardStarted: boolean;
  readonly wildcardStopped: boolean;
  /** What the client says it has (initial request only), within its subscription. */
  readonly known: ReadonlyMap<string, string>;
  /** Send a response for this type now (if anything differs). */
  readonly respond: boolean;
}

export function classifyDeltaRequest(
  state: DeltaTypeStreamState | undefined,
  request: DeltaRequestView,
  wildcardCapable: boolean,
): DeltaClassification {
  const initial = state === undefined;
  const subscribe = request.resource_names_subscribe.filter((n) => n !== WILDCARD);
  const unsubscribe = request.resource_names_unsubscribe.filter((n) => n !== WILDCARD);
  const subscribesWildcard = wildcardCapable && request.resource_names_subscribe.includes(WILDCARD);
  const unsubscribesWildcard = wildcardCapable && request.resource_names_unsubscribe.includes(WILDCARD);

  const names = new Set(state?.names);
  const before = new Set(names);
  for (const n of subscribe) names.add(n);
  for (const n of unsubscribe) names.delete(n);
  const unsubscribed = unsubscribe.filter((n) => before.has(n) && !names.has(n));

  let wildcard = state?.wildcard ?? false;
  let legacyWildcard = state?.legacyWildcard ?? false;
  if (initial && wildcardCapable && request.resource_names_subscribe.length === 0) {
    wildcard = true;
    legacyWildcard = true;
  }
  if (legacyWildcard && !initial && subscribe.length > 0 && !subscribesWildcard) {
    wildcard = false;
    legacyWildcard = false;
  }
  if (subscribesWildcard) {
    wildcard = true;
    legacyWildcard = false;
  }
  if (unsubscribesWildcard) {
    wildcard = false;
    legacyWildcard = false;
  }
  const wasWildcard = state?.wildcard ?? false;
  const wildcardStarted = wildcard && !wasWildcard && !initial;
  const wildcardStopped = !wildcard && wasWildcard;

  const known = new Map<string, string>();
  if (initial) {
    for (const [name, version] of Object.entries(request.initial_resource_versions ?? {})) {
      if (wildcard || names.has(name)) known.set(name, version);
    }
  }
  const mustSend = initial ? subscribe.filter((n) => !known.has(n)) : subscribe;
  const subscriptionPart = { wildcard, legacyWildcard, names, unsubscribed, wildcardStarted, wildcardStopped, known };

  if (initial) {
    const respond = wildcard || names.size > 0 || known.size > 0;
    return { kind: DeltaRequestKind.Initial, latest: false, ...subscriptionPart, mustSend, respond };
  }
  const respond = mustSend.length > 0 || wildcardStarted;
  const changes = { ...subscriptionPart, mustSend, respond };
  const nonce = request.response_nonce;
  if (nonce === '') return { kind: DeltaRequestKind.Subscription, latest: false, ...changes };
  const latest = nonce === state.lastNonce;
  if (!latest && !state.isOutstanding(nonce)) return { kind: DeltaRequestKind.Stale, latest: false, ...changes };
  return { kind: request.error_detail ? DeltaRequestKind.Nack : DeltaRequestKind.Ack, latest, ...changes };
}
