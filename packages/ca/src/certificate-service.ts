import * as grpc from '@grpc/grpc-js';
import { errorMessage, type Logger } from '@meridian/model';
import { authenticateInOrder } from './authn/chain.ts';
import { identityKey, type AuthContext, type Authenticator, type CallerIdentity } from './authn/types.ts';
import {
  CERTIFICATE_SERVICE_NAME,
  certificatePackageDefinition,
  type CertificateRequestMessage,
  type CertificateResponseMessage,
} from './certificate-proto.ts';
import { parseCsr } from './csr.ts';
import { CaError, CaErrorCode, caErrorKind, isCaError } from './errors.ts';
import { KeyedRateLimiter, type RateLimitOptions } from './rate-limiter.ts';
import { csrWorkloadId, type IssuedSvid, type SignRequest } from './signer.ts';

/** What the service needs from a signer; `SvidSigner` fits. */
export interface CertificateSigner {
  readonly trustDomain: string;
  sign(req: SignRequest): Promise<IssuedSvid>;
}

/** Why a request got no certificate: a low-cardinality label for metrics, beside CaErrorCode values. */
export const CertFailure = {
  Unauthenticated: 'unauthenticated',
  PermissionDenied: 'permission_denied',
  AuthUnavailable: 'authn_unavailable',
  /** The CSR names another workload than the caller proved to be. */
  Impersonation: 'impersonation',
  RateLimited: 'rate_limited',
  Internal: 'internal',
} as const;
export type CertFailure = (typeof CertFailure)[keyof typeof CertFailure];
export type CertFailureReason = CertFailure | CaErrorCode;

export interface CertificateIssuedEvent {
  readonly identity: CallerIdentity;
  readonly serialHex: string;
  readonly notAfter: Date;
  readonly latencyMs: number;
}

export interface CertificateFailedEvent {
  readonly code: grpc.status;
  readonly reason: CertFailureReason;
  /** Set once the caller was authenticated. */
  readonly identity?: CallerIdentity;
  readonly latencyMs: number;
}

/** Hooks for metrics; each is optional and must not throw (a throw is logged and ignored). */
export interface CertificateServiceCallbacks {
  onIssued(event: CertificateIssuedEvent): void;
  onFailed(event: CertificateFailedEvent): void;
}

export interface CertificateServiceStats {
  readonly issued: number;
  readonly failed: Readonly<Partial<Record<CertFailureReason, number>>>;
}

export interface CertificateServiceOptions {
  readonly signer: CertificateSigner;
  /**
   * Tried in this order, first success wins (see `authenticateInOrder`). Meridian's order:
   * ClientCertAuthenticator, JwtAuthenticator, KubeTokenAuthenticator.
   */
  readonly authenticators: readonly Authenticator[];
  readonly logger: Logger;
  /** Per-identity token bucket; `false` turns it off. Default 10 per 10 s, burst 20. */
  readonly rateLimit?: RateLimitOptions | false;
  readonly callbacks?: Partial<CertificateServiceCallbacks>;
  readonly clock?: () => number;
}

type Outcome =
  | { readonly ok: true; readonly issued: IssuedSvid; readonly identity: CallerIdentity }
  | {
      readonly ok: false;
      readonly code: grpc.status;
      readonly reason: CertFailureReason;
      /** Full detail, for the log only. */
      readonly detail: string;
      /**
       * What the caller is told instead of the opaque message, when the mistake is its own
       * and telling it reveals nothing it did not send or prove itself.
       */
      readonly callerDetail?: string;
      readonly identity?: CallerIdentity;
      readonly err?: unknown;
    };

// Security failures tell the caller nothing it could use to probe; the log has the detail.
const opaqueMessage: Partial<Record<grpc.status, string>> = {
  [grpc.status.UNAUTHENTICATED]: 'authentication failed',
  [grpc.status.PERMISSION_DENIED]: 'permission denied',
  [grpc.status.UNAVAILABLE]: 'certificate service unavailable, retry later',
  [grpc.status.RESOURCE_EXHAUSTED]: 'too many certificate requests, retry later',
  [grpc.status.INTERNAL]: 'internal error',
};

const authCode = {
  UNAUTHENTICATED: { code: grpc.status.UNAUTHENTICATED, reason: CertFailure.Unauthenticated },
  PERMISSION_DENIED: { code: grpc.status.PERMISSION_DENIED, reason: CertFailure.PermissionDenied },
  UNAVAILABLE: { code: grpc.status.UNAVAILABLE, reason: CertFailure.AuthUnavailable },
} as const;

const kindCode = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
} as const;

/** The one place a CA failure becomes a gRPC status. */
export function caErrorToGrpcStatus(err: unknown): grpc.status {
  return kindCode[caErrorKind(err)];
}

/** `validity_duration` (int64 seconds; proto-loader hands it over as a string) → the signer's TTL. */
export function parseValidity(value: string | number | undefined): number | undefined {
  const text = String(value ?? '0');
  if (!/^-?\d+$/.test(text)) throw new CaError(CaErrorCode.Ttl, `validity_duration "${text}" is not an integer`);
  const seconds = BigInt(text);
  if (seconds < 0n) throw new CaError(CaErrorCode.Ttl, `validity_duration ${text}s is negative`);
  if (seconds === 0n) return undefined;
  // The signer caps (or rejects) anything above its maximum; only keep the number exact enough for that.
  return seconds > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(seconds);
}

function sameWorkload(caller: CallerIdentity, requested: { trustDomain: string; namespace: string; serviceAccount: string }): boolean {
  return (
    caller.namespace === requested.namespace &&
    caller.serviceAccount === requested.serviceAccount &&
    (caller.trustDomain === undefined || caller.trustDomain === requested.trustDomain)
  );
}

/**
 * `istio.v1.auth.IstioCertificateService` (DESIGN §5): authenticate → rate limit → parse the
 * CSR → the CSR's identity must be the caller's → sign → chain leaf first, root last.
 * Nothing is signed unless every step passed.
 */
export class CertificateService {
  readonly #signer: CertificateSigner;
  readonly #authenticators: readonly Authenticator[];
  readonly #logger: Logger;
  readonly #limiter: KeyedRateLimiter | undefined;
  readonly #callbacks: Partial<CertificateServiceCallbacks>;
  readonly #clock: () => number;
  #issued = 0;
  readonly #failed: Partial<Record<CertFailureReason, number>> = {};

  constructor(options: CertificateServiceOptions) {
    this.#signer = options.signer;
    this.#authenticators = options.authenticators;
    this.#logger = options.logger.child({ component: 'ca-service' });
    this.#clock = options.clock ?? Date.now;
    this.#limiter =
      options.rateLimit === false ? undefined : new KeyedRateLimiter({ clock: this.#clock, ...(options.rateLimit ?? {}) });
    this.#callbacks = options.callbacks ?? {};
  }

  stats(): CertificateServiceStats {
    return { issued: this.#issued, failed: { ...this.#failed } };
  }

  /** The grpc-js unary handler. Never throws; always calls back exactly once. */
  readonly createCertificate: grpc.handleUnaryCall<CertificateRequestMessage, CertificateResponseMessage> = (call, callback) => {
    const started = this.#clock();
    let peer = '';
    let ctx: AuthContext;
    try {
      peer = call.getPeer();
      ctx = { metadata: call.metadata, ...peerCertificate(call) };
    } catch (err) {
      this.#finish({ ok: false, code: grpc.status.INTERNAL, reason: CertFailure.Internal, detail: 'reading the call failed', err }, started, peer, '', callback);
      return;
    }
    const cluster = call.metadata.get('clusterid').find((v): v is string => typeof v === 'string') ?? '';
    this.#handle(call.request, ctx).then(
      (outcome) => this.#finish(outcome, started, peer, cluster, callback),
      (err: unknown) =>
        this.#finish({ ok: false, code: grpc.status.INTERNAL, reason: CertFailure.Internal, detail: errorMessage(err), err }, started, peer, cluster, callback),
    );
  };

  async #handle(request: CertificateRequestMessage, ctx: AuthContext): Promise<Outcome> {
    const auth = await authenticateInOrder(this.#authenticators, ctx);
    if (!auth.ok) return { ok: false, ...authCode[auth.code], detail: auth.reason };
    const identity = auth.identity;

    if (this.#limiter !== undefined && !this.#limiter.tryTake(identityKey(identity))) {
      return { ok: false, code: grpc.status.RESOURCE_EXHAUSTED, reason: CertFailure.RateLimited, detail: 'per-identity rate limit', identity };
    }
    try {
      const csr = request.csr ?? '';
      const requested = csrWorkloadId(parseCsr(csr), this.#signer.trustDomain);
      const ttlSeconds = parseValidity(request.validity_duration);
      if (!sameWorkload(identity, requested)) {
        return {
          ok: false,
          code: grpc.status.PERMISSION_DENIED,
          reason: CertFailure.Impersonation,
          detail: `CSR asks for ${requested.uri}, caller is ${identity.trustDomain ?? '(any trust domain)'}/${identityKey(identity)}`,
          // Both halves are the caller's own: the CSR it sent, the identity its credential proved.
          callerDetail: `permission denied: the CSR asks for ${requested.uri}, but the caller's credential proves ${provenIdentity(identity)}`,
          identity,
        };
      }
      const issued = await this.#signer.sign({ csr, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
      return { ok: true, issued, identity };
    } catch (err) {
      const reason: CertFailureReason = isCaError(err) ? err.code : CertFailure.Internal;
      return { ok: false, code: caErrorToGrpcStatus(err), reason, detail: errorMessage(err), identity, err };
    }
  }

  #finish(outcome: Outcome, started: number, peer: string, cluster: string, callback: grpc.sendUnaryData<CertificateResponseMessage>): void {
    const latencyMs = this.#clock() - started;
    const identity = outcome.identity;
    const fields = {
      peer,
      ...(cluster === '' && identity?.cluster === undefined ? {} : { cluster: identity?.cluster ?? cluster }),
      ...(identity === undefined ? {} : { identity: identityKey(identity), via: identity.via }),
    };
    try {
      if (outcome.ok) {
        this.#issued++;
        this.#logger.info({ ...fields, serial: outcome.issued.serialHex, notAfter: outcome.issued.notAfter.toISOString(), latencyMs }, 'certificate issued');
        callback(null, { cert_chain: outcome.issued.certChainPem });
        const event = { identity: outcome.identity, serialHex: outcome.issued.serialHex, notAfter: outcome.issued.notAfter, latencyMs };
        this.#hook('onIssued', () => this.#callbacks.onIssued?.(event));
        return;
      }
      this.#failed[outcome.reason] = (this.#failed[outcome.reason] ?? 0) + 1;
      const line = { ...fields, code: grpc.status[outcome.code], reason: outcome.reason, detail: outcome.detail, latencyMs };
      if (outcome.code === grpc.status.INTERNAL) this.#logger.error({ ...line, err: outcome.err }, 'certificate request failed');
      else this.#logger.warn(line, 'certificate request refused');
      const details = outcome.callerDetail ?? opaqueMessage[outcome.code] ?? `invalid request: ${outcome.detail}`;
      callback({ code: outcome.code, details });
      const event = { code: outcome.code, reason: outcome.reason, latencyMs, ...(identity === undefined ? {} : { identity }) };
      this.#hook('onFailed', () => this.#callbacks.onFailed?.(event));
    } catch (err) {
      // Only a broken callback or logger gets here; the call may already be answered.
      this.#logger.error({ err, peer }, 'certificate service: answering the call failed');
    }
  }

  #hook(name: keyof CertificateServiceCallbacks, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#logger.warn({ err, hook: name }, 'certificate service hook threw');
    }
  }
}

/** What a caller proved, as it would recognise it. */
function provenIdentity(id: CallerIdentity): string {
  return id.trustDomain !== undefined ? `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}` : `namespace ${id.namespace}, service account ${id.serviceAccount}`;
}

function peerCertificate(call: grpc.ServerUnaryCall<unknown, unknown>): { peerCertificateDer?: Uint8Array } {
  // grpc-js ≥1.12 exposes the TLS peer only when the handshake verified it (socket.authorized).
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  return raw === undefined ? {} : { peerCertificateDer: raw };
}

/** The proto-loader definition of the service, checked to be what we expect. */
export function certificateServiceDefinition(): grpc.ServiceDefinition {
  const def = certificatePackageDefinition()[CERTIFICATE_SERVICE_NAME];
  if (def === undefined || !('CreateCertificate' in def)) throw new Error(`${CERTIFICATE_SERVICE_NAME} missing from the loaded proto`);
  return def as unknown as grpc.ServiceDefinition;
}

/** Registers `IstioCertificateService` on a grpc-js server; the returned service exposes `stats()`. */
export function addCertificateService(server: grpc.Server, options: CertificateServiceOptions): CertificateService {
  const service = new CertificateService(options);
  server.addService(certificateServiceDefinition(), { CreateCertificate: service.createCertificate });
  return service;
}
