/**
 * What a SotW DiscoveryRequest means, decided from the request and the stream's state for
 * its type alone (Istio's ShouldRespond, as a pure function). Cases, per the xDS transport
 * protocol:
 *  - initial: first request for the type on this stream (empty nonce, nothing sent yet).
 *    A non-empty version_info means the client reconnected with config it already has;
 *    it still gets the full state, since this stream knows nothing yet.
 *  - nack: the nonce is the latest we sent and error_detail is set. Recorded; not retried.
 *  - ack: the nonce is the latest we sent and no error.
 *  - stale: the nonce is not the latest; the client has not seen our newest response yet.
 *    Not an ACK, but its resource names are the client's current subscription.
 * In every case, names newly subscribed are answered even when nothing else changed.
 */
export const RequestKind = {
  Initial: 'initial',
  Ack: 'ack',
  Nack: 'nack',
  Stale: 'stale',
} as const;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

export interface TypeStreamState {
  /** Subscribed names; undefined means wildcard. */
  readonly names: ReadonlySet<string> | undefined;
  /** Nonce of the latest response sent on this stream for the type, if any. */
  readonly lastNonce: string | undefined;
}

export interface SotwRequestView {
  readonly version_info: string;
  readonly response_nonce: string;
  readonly resource_names: readonly string[];
  readonly error_detail?: { readonly code?: number; readonly message?: string } | null | undefined;
}

export interface Classification {
  readonly kind: RequestKind;
  /** The subscription after this request; undefined = wildcard. */
  readonly names: ReadonlySet<string> | undefined;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Send a response for this type now. */
  readonly respond: boolean;
  /** The response must carry every subscribed resource, not only changed ones. */
  readonly fullState: boolean;
}

/**
 * Legacy wildcard: for listeners and clusters, an initial request with no names
 * subscribes to everything, and so does the explicit name `*`.
 */
export function subscriptionFromNames(
  names: readonly string[],
  wildcardCapable: boolean,
  previous: ReadonlySet<string> | undefined | 'none',
): ReadonlySet<string> | undefined {
  if (wildcardCapable && names.includes('*')) return undefined;
  if (wildcardCapable && names.length === 0 && (previous === 'none' || previous === undefined)) return undefined;
  return new Set(names);
}

export function classifyRequest(
  state: TypeStreamState | undefined,
  request: SotwRequestView,
  wildcardCapable: boolean,
): Classification {
  const previousNames = state ? state.names : 'none';
  const names = subscriptionFromNames(request.resource_names, wildcardCapable, previousNames);
  const { added, removed } = diffNames(state ? state.names : new Set(), names);

  if (!state || state.lastNonce === undefined || request.response_nonce === '') {
    const subscribed = names === undefined || names.size > 0;
    return { kind: RequestKind.Initial, names, added, removed, respond: subscribed, fullState: true };
  }
  if (request.response_nonce !== state.lastNonce) {
    return { kind: RequestKind.Stale, names, added, removed, respond: added.length > 0, fullState: false };
  }
  const wildcardStarted = names === undefined && state.names !== undefined;
  const respond = added.length > 0 || wildcardStarted;
  const kind = request.error_detail ? RequestKind.Nack : RequestKind.Ack;
  return { kind, names, added, removed, respond, fullState: wildcardStarted };
}

function diffNames(
  before: ReadonlySet<string> | undefined,
  after: ReadonlySet<string> | undefined,
): { added: string[]; removed: string[] } {
  if (before === undefined || after === undefined) return { added: [], removed: [] };
  return {
    added: [...after].filter((n) => !before.has(n)),
    removed: [...before].filter((n) => !after.has(n)),
  };
}
