/**
 * `meridian.v1.JwtSvidService` (proto/meridian/v1/jwt_svid.proto): a workload authenticates as
 * it does for an X.509-SVID (same authenticators, same order) and gets a JWT-SVID whose `sub`
 * is the identity it proved, for the audiences it names. Nobody gets a token for another
 * identity: the request names no subject.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { errorMessage, type Logger } from '@meridian/model';
import { authenticateInOrder } from './authn/chain.ts';
import { identityKey, type Authenticator, type CallerIdentity } from './authn/types.ts';
import { PROTO_DIR } from './certificate-proto.ts';
import { JWT_SVID_DEFAULT_TTL_SECONDS, type JwtSvidSigner } from './jwt-svid.ts';
import { KeyedRateLimiter, type RateLimitOptions } from './rate-limiter.ts';

export const JWT_SVID_SERVICE_NAME = 'meridian.v1.JwtSvidService';

export interface FetchJwtSvidRequestMessage {
  readonly audience?: readonly string[];
  /** int64, decoded as a decimal string. */
  readonly ttl_seconds?: string | number;
}

export interface FetchJwtSvidResponseMessage {
  readonly spiffe_id: string;
  readonly token: string;
  readonly expires_at: string | number;
}

export interface JwtSvidServiceOptions {
  readonly trustDomain: string;
  /** The current signer; `undefined` while the CA has no key (the call is UNAVAILABLE). */
  readonly signer: () => JwtSvidSigner | undefined;
  readonly authenticators: readonly Authenticator[];
  readonly logger: Logger;
  /** Per-identity token bucket; `false` turns it off. Default 10 per 10 s, burst 20. */
  readonly rateLimit?: RateLimitOptions | false;
}

/** More would be a token meant for everyone; each audience is a name, not a document. */
const MAX_AUDIENCES = 16;
const MAX_AUDIENCE_LENGTH = 512;

type Refusal = { readonly code: grpc.status; readonly message: string; readonly detail?: string };

let definition: protoLoader.PackageDefinition | undefined;

export function jwtSvidServiceDefinition(): grpc.ServiceDefinition {
  definition ??= protoLoader.loadSync('meridian/v1/jwt_svid.proto', { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return definition[JWT_SVID_SERVICE_NAME] as unknown as grpc.ServiceDefinition;
}

export function addJwtSvidService(server: grpc.Server, options: JwtSvidServiceOptions): void {
  const logger = options.logger.child({ component: 'jwt-svid' });
  const limiter = options.rateLimit === false ? undefined : new KeyedRateLimiter(options.rateLimit ?? {});

  const handle = async (request: FetchJwtSvidRequestMessage, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<FetchJwtSvidResponseMessage | Refusal> => {
    const raw = call.getAuthContext().sslPeerCertificate?.raw;
    const auth = await authenticateInOrder(options.authenticators, { metadata: call.metadata, ...(raw ? { peerCertificateDer: raw } : {}) });
    if (!auth.ok) {
      const code = { UNAUTHENTICATED: grpc.status.UNAUTHENTICATED, PERMISSION_DENIED: grpc.status.PERMISSION_DENIED, UNAVAILABLE: grpc.status.UNAVAILABLE }[auth.code];
      return { code, message: code === grpc.status.UNAVAILABLE ? 'authentication unavailable, retry later' : 'authentication failed', detail: auth.reason };
    }
    const id = auth.identity;
    if (id.trustDomain !== undefined && id.trustDomain !== options.trustDomain) {
      return { code: grpc.status.PERMISSION_DENIED, message: `permission denied: JWT-SVIDs are minted for identities of ${options.trustDomain}, the caller proved one of ${id.trustDomain}` };
    }
    if (limiter && !limiter.tryTake(identityKey(id))) return { code: grpc.status.RESOURCE_EXHAUSTED, message: 'too many JWT-SVID requests, retry later' };
    const audiences = [...new Set(request.audience ?? [])];
    if (audiences.length === 0 || audiences.some((a) => a === '')) return { code: grpc.status.INVALID_ARGUMENT, message: 'audience: at least one non-empty audience is required (a JWT-SVID names who it is for)' };
    if (audiences.length > MAX_AUDIENCES) return { code: grpc.status.INVALID_ARGUMENT, message: `audience: at most ${MAX_AUDIENCES}, got ${audiences.length}` };
    if (audiences.some((a) => a.length > MAX_AUDIENCE_LENGTH)) return { code: grpc.status.INVALID_ARGUMENT, message: `audience: each at most ${MAX_AUDIENCE_LENGTH} characters` };
    const ttlText = String(request.ttl_seconds ?? '0');
    if (!/^\d{1,12}$/.test(ttlText)) return { code: grpc.status.INVALID_ARGUMENT, message: `ttl_seconds: ${ttlText} is not a whole number of seconds` };
    const signer = options.signer();
    if (!signer) return { code: grpc.status.UNAVAILABLE, message: 'the CA has no key yet, retry later' };
    const svid = signer.mint(spiffeIdOf(id, options.trustDomain), audiences, Number(ttlText) || JWT_SVID_DEFAULT_TTL_SECONDS);
    logger.info({ identity: svid.spiffeId, via: id.via, ...(id.cluster ? { cluster: id.cluster } : {}), audiences, expiresAt: new Date(svid.expiresAt * 1000).toISOString() }, 'JWT-SVID issued');
    return { spiffe_id: svid.spiffeId, token: svid.token, expires_at: String(svid.expiresAt) };
  };

  const fetchJwtSvid: grpc.handleUnaryCall<FetchJwtSvidRequestMessage, FetchJwtSvidResponseMessage> = (call, callback) => {
    handle(call.request, call).then(
      (answer) => {
        if ('token' in answer) return callback(null, answer);
        logger.warn({ peer: call.getPeer(), code: grpc.status[answer.code], reason: answer.detail ?? answer.message }, 'JWT-SVID request refused');
        callback({ code: answer.code, details: answer.message });
      },
      (err: unknown) => {
        logger.error({ peer: call.getPeer(), err: errorMessage(err) }, 'JWT-SVID request failed');
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      },
    );
  };
  server.addService(jwtSvidServiceDefinition(), { FetchJwtSvid: fetchJwtSvid });
}

function spiffeIdOf(id: CallerIdentity, trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}
