import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const CaKeyAlgorithm = {
  EcdsaP256: 'ecdsa-p256',
  EcdsaP384: 'ecdsa-p384',
  Rsa2048: 'rsa-2048',
  Rsa3072: 'rsa-3072',
  Rsa4096: 'rsa-4096',
} as const;
export type CaKeyAlgorithm = (typeof CaKeyAlgorithm)[keyof typeof CaKeyAlgorithm];

type WebKeyParams = webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;

export function webKeyParams(alg: CaKeyAlgorithm): WebKeyParams {
  switch (alg) {
    case CaKeyAlgorithm.EcdsaP256:
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case CaKeyAlgorithm.EcdsaP384:
      return { name: 'ECDSA', namedCurve: 'P-384' };
    default:
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: Number(alg.slice('rsa-'.length)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  }
}

/** The WebCrypto signing algorithm @peculiar/x509 needs for a key of this kind. */
export function webSigningAlgorithm(params: { name: string; namedCurve?: string }): webcrypto.EcdsaParams | webcrypto.Algorithm {
  if (params.name === 'ECDSA') return { name: 'ECDSA', hash: params.namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' };
  return { name: 'RSASSA-PKCS1-v1_5' };
}

export interface GeneratedKey {
  readonly pair: CryptoKeyPair;
  readonly privateKey: KeyObject;
}

export async function generateCaKey(alg: CaKeyAlgorithm): Promise<GeneratedKey> {
  const params = webKeyParams(alg);
  const pair = (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
  return { pair, privateKey: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }) };
}

/** A WebCrypto key pair for a node KeyObject, so @peculiar/x509 can sign with a loaded CA key. */
export async function toWebKeyPair(key: KeyObject): Promise<{ pair: CryptoKeyPair; params: WebKeyParams }> {
  const details = key.asymmetricKeyDetails;
  const params: WebKeyParams =
    key.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: details?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: details?.modulusLength ?? 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const importParams = params.name === 'ECDSA' ? params : { name: params.name, hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), importParams, true, ['sign']);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, importParams, true, ['verify']);
  return { pair: { privateKey, publicKey }, params };
}
