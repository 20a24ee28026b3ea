export { CaError, CaErrorCode, caErrorKind, isCaError, type CaErrorKind } from './errors.ts';
export { parseSpiffeId, parseWorkloadId, workloadSpiffeId, type SpiffeIdResult, type WorkloadId } from './spiffe-id.ts';
export { KeyKind, parseCsr, type ParsedCsr } from './csr.ts';
export { verifyCsrSignature } from './csr-verify.ts';
export { createCsr, type Csr, type CsrOptions } from './csr-builder.ts';
export { createAuthority, type AuthorityInput, type CaAuthority } from './authority.ts';
export { CaKeyAlgorithm } from './key-algorithm.ts';
export {
  createIntermediate,
  createSelfSignedRoot,
  type CaCertificate,
  type IntermediateOptions,
  type SelfSignedRootOptions,
} from './ca-certificates.ts';
export { CacertsFile, loadCacerts, writeCacertsAtomically, removeStaleStaging, type CacertsMaterial } from './cacerts.ts';
export { SELF_SIGNED_SUBDIR, loadOrCreateSelfSignedCa, type SelfSignedCa, type SelfSignedCaOptions } from './ca-store.ts';
export { mintIntermediateCacerts, type MintIntermediateOptions } from './intermediate.ts';
export {
  SvidSigner,
  TtlPolicy,
  csrWorkloadId,
  type IssuedCert,
  type IssuedSvid,
  type ServingCertRequest,
  type SignRequest,
  type SignerStats,
  type SvidSignerOptions,
} from './signer.ts';
export { JwtSvidSigner, JWT_SVID_DEFAULT_TTL_SECONDS, JWT_SVID_MAX_TTL_SECONDS, type JwtSvid, type JwtSvidBundleKey } from './jwt-svid.ts';
export { addJwtSvidService, JWT_SVID_SERVICE_NAME, jwtSvidServiceDefinition, type FetchJwtSvidRequestMessage, type FetchJwtSvidResponseMessage, type JwtSvidServiceOptions } from './jwt-svid-service.ts';
export { spiffeBundle, trustBundlePem, type SpiffeBundle, type SpiffeBundleKey, type SpiffeBundleOptions } from './trust-bundle.ts';
export { certToPem, fromPemAll, toPem } from './pem.ts';
export {
  BundleFetcher,
  REFRESH_DEFAULT_SECONDS,
  REFRESH_MAX_SECONDS,
  REFRESH_MIN_SECONDS,
  httpsTransport,
  parseSpiffeBundle,
  refreshDelaySeconds,
  type BundleFetcherOptions,
  type BundleTransport,
  type FederatedBundle,
  type FetchError,
  type ParsedSpiffeBundle,
  type SpiffeBundleParseResult,
} from './federation.ts';
export {
  AuthMethod,
  bearerToken,
  identityKey,
  parseServiceAccountUser,
  type AuthContext,
  type AuthFailureCode,
  type AuthResult,
  type Authenticator,
  type CallerIdentity,
  type MetadataReader,
} from './authn/types.ts';
export { authenticateInOrder } from './authn/chain.ts';
export {
  CLUSTER_ID_METADATA,
  DEFAULT_TOKEN_AUDIENCES,
  KubeTokenAuthenticator,
  type KubeTokenAuthenticatorOptions,
  type TokenReviewResult,
  type TokenReviewer,
} from './authn/kube-token.ts';
export { KubeTokenReviewer, type KubeTokenReviewerOptions } from './authn/kube-token-reviewer.ts';
export { JwsAlgorithm, jwkThumbprint, parseJwks, type Jwk, type Jwks, type JwksResult } from './authn/jws.ts';
export { JwtAuthenticator, serviceAccountOfClaims, type JwtAuthenticatorOptions, type JwtIssuerConfig } from './authn/jwt-authenticator.ts';
export {
  LOCAL_JWT_KEY_FILE,
  LocalJwtIssuer,
  type LoadOrCreateLocalJwtIssuerOptions,
  type LocalJwtIssuerOptions,
  type MintOptions,
} from './authn/local-jwt-issuer.ts';
export { ClientCertAuthenticator, certTrustOf, type CertTrust, type ClientCertAuthenticatorOptions } from './authn/client-cert.ts';
export { rotatedCertTrust } from './rotation.ts';
export { KeyedRateLimiter, type RateLimitOptions } from './rate-limiter.ts';
export {
  CERTIFICATE_PROTO_FILE,
  CERTIFICATE_SERVICE_NAME,
  PROTO_DIR,
  certificatePackageDefinition,
  type CertificateRequestMessage,
  type CertificateResponseMessage,
} from './certificate-proto.ts';
export {
  CertFailure,
  CertificateService,
  addCertificateService,
  caErrorToGrpcStatus,
  certificateServiceDefinition,
  parseValidity,
  type CertFailureReason,
  type CertificateFailedEvent,
  type CertificateIssuedEvent,
  type CertificateServiceCallbacks,
  type CertificateServiceOptions,
  type CertificateServiceStats,
  type CertificateSigner,
} from './certificate-service.ts';
export { CertificateClient, type CertificateClientOptions, type CreateCertificateRequest } from './certificate-client.ts';
export { TlsMaterialProvider, optionalClientCertCredentials, type TlsMaterial } from './tls-credentials.ts';
