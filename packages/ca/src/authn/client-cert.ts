import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { CaAuthority } from '../authority.ts';
import { errorMessage } from '@meridian/model';
import { parseWorkloadId } from '../spiffe-id.ts';
import { x509 } from '../x509.ts';
import { AuthMethod, authFailure, type AuthContext, type AuthResult, type Authenticator } from './types.ts';

/** The certificates a client SVID may chain through; read per request, so rotation applies at once. */
export interface CertTrust {
  readonly rootsDer: readonly Uint8Array[];
  /** CA certificates between leaves and roots that we know (our signing cert and its parents). */
  readonly intermediatesDer?: readonly Uint8Array[];
}

/** Trust for SVIDs this CA issued: its roots, plus its signing cert and intermediates when it is not a root. */
export function certTrustOf(authority: CaAuthority): CertTrust {
  return { rootsDer: authority.rootsDer, intermediatesDer: authority.isRoot ? [] : [authority.certDer, ...authority.intermediatesDer] };
}

export interface ClientCertAuthenticatorOptions {
  /** undefined while the CA has no material: such requests are UNAVAILABLE, not refused. */
  readonly trust: () => CertTrust | undefined;
  /** Only SVIDs of this trust domain renew here. */
  readonly trustDomain: string;
  readonly clock?: () => number;
}

interface ParsedTrust {
  readonly roots: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
}

const MAX_CHAIN_DEPTH = 5;

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Renewal: a workload proves itself with the SVID it still holds. The TLS layer already
 * checked the chain against the CA it was built with; we check again against the current
 * trust because roots rotate while connections stay open, and because the gRPC auth context
 * carries only the leaf.
 */
export class ClientCertAuthenticator implements Authenticator {
  readonly method = AuthMethod.ClientCert;
  readonly #trust: () => CertTrust | undefined;
  readonly #trustDomain: string;
  readonly #clock: () => number;
  #parsed: { readonly source: CertTrust; readonly trust: ParsedTrust } | undefined;

  constructor(options: ClientCertAuthenticatorOptions) {
    this.#trust = options.trust;
    this.#trustDomain = options.trustDomain;
    this.#clock = options.clock ?? Date.now;
  }

  async authenticate(ctx: AuthContext): Promise<AuthResult> {
    const der = ctx.peerCertificateDer;
    if (der === undefined) return authFailure('UNAUTHENTICATED', 'no verified client certificate');
    try {
      return this.#check(der);
    } catch (err) {
      // Certificates that parse in node:crypto but not in the SAN parser, or unusable trust.
      return authFailure('UNAUTHENTICATED', `client certificate check failed: ${errorMessage(err)}`);
    }
  }

  #check(der: Uint8Array): AuthResult {
    const trust = this.#currentTrust();
    if (trust === undefined) return authFailure('UNAVAILABLE', 'CA material not loaded; cannot check client certificates');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(Buffer.from(der));
    } catch (err) {
      return authFailure('UNAUTHENTICATED', `client certificate does not parse: ${errorMessage(err)}`);
    }
    const now = this.#clock();
    if (!validAt(leaf, now)) return authFailure('UNAUTHENTICATED', `client certificate not valid now (${leaf.validFrom} – ${leaf.validTo})`);
    if (leaf.ca) return authFailure('UNAUTHENTICATED', 'client certificate is a CA certificate');
    if (!this.#chains(leaf, trust, now)) return authFailure('UNAUTHENTICATED', `client certificate (issuer ${leaf.issuer}) does not chain to our roots`);

    const uris = uriSans(der);
    if (uris.length !== 1) return authFailure('UNAUTHENTICATED', `client certificate has ${uris.length} URI SANs; an SVID has exactly one`);
    try {
      const id = parseWorkloadId(uris[0] ?? '', this.#trustDomain);
      return { ok: true, identity: { trustDomain: id.trustDomain, namespace: id.namespace, serviceAccount: id.serviceAccount, via: AuthMethod.ClientCert } };
    } catch (err) {
      return authFailure('UNAUTHENTICATED', `client certificate identity: ${errorMessage(err)}`);
    }
  }

  #currentTrust(): ParsedTrust | undefined {
    const source = this.#trust();
    if (source === undefined) return undefined;
    if (this.#parsed?.source !== source) {
      const parse = (ders: readonly Uint8Array[] | undefined) => (ders ?? []).map((d) => new X509Certificate(Buffer.from(d)));
      this.#parsed = { source, trust: { roots: parse(source.rootsDer), intermediates: parse(source.intermediatesDer) } };
    }
    return this.#parsed.trust;
  }

  #chains(leaf: X509Certificate, trust: ParsedTrust, now: number): boolean {
    let current = leaf;
    for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
      if (trust.roots.some((r) => validAt(r, now) && signedBy(current, r))) return true;
      const next = trust.intermediates.find((i) => i.ca && validAt(i, now) && signedBy(current, i));
      if (next === undefined) return false;
      current = next;
    }
    return false;
  }
}

function uriSans(der: Uint8Array): string[] {
  const san = new x509.X509Certificate(der).getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
}
