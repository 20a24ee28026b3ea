import { CaError, CaErrorCode } from './errors.ts';

/** A workload identity in Istio's shape: spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>. */
export interface WorkloadId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type SpiffeIdResult =
  | { readonly ok: true; readonly trustDomain: string; readonly path: readonly string[] }
  | { readonly ok: false; readonly reason: string };

// SPIFFE-ID spec §2.1/§2.2: the character sets are deliberately narrow so IDs compare byte-for-byte.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_ID_LENGTH = 2048;
const TRUST_DOMAIN_MAX = 255;

/** Checks a SPIFFE ID against the spec's syntax; returns why not instead of throwing. */
export function parseSpiffeId(uri: string): SpiffeIdResult {
  if (uri.length > MAX_ID_LENGTH) return { ok: false, reason: `longer than ${MAX_ID_LENGTH} bytes` };
  if (!uri.startsWith('spiffe://')) return { ok: false, reason: 'scheme must be "spiffe" (lowercase)' };
  const rest = uri.slice('spiffe://'.length);
  if (/[?#]/.test(rest)) return { ok: false, reason: 'query and fragment are not allowed' };
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (trustDomain === '') return { ok: false, reason: 'trust domain is empty' };
  if (trustDomain.includes('@')) return { ok: false, reason: 'userinfo is not allowed' };
  if (trustDomain.includes(':')) return { ok: false, reason: 'port is not allowed' };
  if (trustDomain.length > TRUST_DOMAIN_MAX) return { ok: false, reason: 'trust domain too long' };
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return { ok: false, reason: 'trust domain may hold only lowercase letters, digits, ".", "-" and "_"' };
  }
  if (slash === -1) return { ok: true, trustDomain, path: [] };
  const segments = rest.slice(slash + 1).split('/');
  for (const seg of segments) {
    if (seg === '') return { ok: false, reason: 'path segments must not be empty (no "//" or trailing "/")' };
    if (seg === '.' || seg === '..') return { ok: false, reason: 'path must not contain "." or ".." segments' };
    if (!SEGMENT.test(seg)) return { ok: false, reason: `path segment "${seg}" has characters outside [A-Za-z0-9._-]` };
  }
  return { ok: true, trustDomain, path: segments };
}

/** Parses a workload SVID identity, or throws CA_ERR_SAN saying why. */
export function parseWorkloadId(uri: string, expectedTrustDomain?: string): WorkloadId {
  const parsed = parseSpiffeId(uri);
  if (!parsed.ok) throw new CaError(CaErrorCode.San, `invalid SPIFFE ID "${uri}": ${parsed.reason}`);
  const [ns, namespace, sa, serviceAccount, ...extra] = parsed.path;
  if (ns !== 'ns' || sa !== 'sa' || namespace === undefined || serviceAccount === undefined || extra.length > 0) {
    throw new CaError(CaErrorCode.San, `SPIFFE ID "${uri}" is not of the form spiffe://<trust-domain>/ns/<ns>/sa/<sa>`);
  }
  if (expectedTrustDomain !== undefined && parsed.trustDomain !== expectedTrustDomain) {
    throw new CaError(
      CaErrorCode.San,
      `SPIFFE ID "${uri}" is in trust domain "${parsed.trustDomain}", this CA signs for "${expectedTrustDomain}"`,
    );
  }
  return { uri, trustDomain: parsed.trustDomain, namespace, serviceAccount };
}

export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const uri = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  parseWorkloadId(uri, trustDomain);
  return uri;
}
