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
  type IssuedCert,
  type IssuedSvid,
  type ServingCertRequest,
  type SignRequest,
  type SignerStats,
  type SvidSignerOptions,
} from './signer.ts';
export { spiffeBundle, trustBundlePem, type SpiffeBundle, type SpiffeBundleKey, type SpiffeBundleOptions } from './trust-bundle.ts';
export { certToPem, fromPemAll, toPem } from './pem.ts';
