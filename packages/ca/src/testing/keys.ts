// Keys, CSRs and openssl for this package's tests and the ca benchmark (`@meridian/ca/testing`).
import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { x509 } from '../x509.ts';

export const TestKey = {
  P256: 'p256',
  P384: 'p384',
  P521: 'p521',
  Rsa1024: 'rsa1024',
  Rsa2048: 'rsa2048',
  Rsa3072: 'rsa3072',
} as const;
export type TestKey = (typeof TestKey)[keyof typeof TestKey];

type Params = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0];

function keyParams(kind: TestKey): { gen: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: webcrypto.Algorithm | webcrypto.EcdsaParams } {
  switch (kind) {
    case TestKey.P256:
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams };
    case TestKey.P384:
      return { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams };
    case TestKey.P521:
      return { gen: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } as webcrypto.EcdsaParams };
    default: {
      const bits = Number(kind.slice('rsa'.length));
      return {
        gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
    }
  }
}

export interface TestCsr {
  readonly pem: string;
  readonly der: Buffer;
  /** The requester's private key, as a node KeyObject (for TLS) and PEM. */
  readonly key: KeyObject;
  readonly keyPem: string;
}

export interface TestCsrOptions {
  readonly key?: TestKey;
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  readonly subject?: string;
}

/** A PKCS#10 request made the slow, obviously-correct way, through @peculiar/x509. */
export async function makeCsr(opts: TestCsrOptions = {}): Promise<TestCsr> {
  const { gen, sign } = keyParams(opts.key ?? TestKey.P256);
  const keys = (await webcrypto.subtle.generateKey(gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names = [
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(opts.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const params: Params = {
    keys: keys as unknown as Params['keys'],
    signingAlgorithm: sign,
    ...(opts.subject === undefined ? {} : { name: opts.subject }),
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(params);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { pem: csr.toString('pem'), der: Buffer.from(csr.rawData), key, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

const execFileP = promisify(execFile);

export async function openssl(args: readonly string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const child = execFileP('openssl', [...args], { encoding: 'utf8' });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout, stderr } = await child;
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meridian-ca-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `openssl verify` of a leaf against a root, with intermediates untrusted, for a given purpose. */
export async function opensslVerify(
  dir: string,
  chainPem: readonly string[],
  purpose: 'sslclient' | 'sslserver',
): Promise<{ ok: boolean; output: string }> {
  const [leaf, ...rest] = chainPem;
  const root = rest[rest.length - 1];
  if (leaf === undefined || root === undefined) throw new Error('chain needs a leaf and a root');
  const inter = rest.slice(0, -1);
  const files = { leaf: path.join(dir, 'leaf.pem'), root: path.join(dir, 'root.pem'), inter: path.join(dir, 'inter.pem') };
  await writeFile(files.leaf, leaf);
  await writeFile(files.root, root);
  await writeFile(files.inter, inter.join(''));
  const args = ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', files.root];
  if (inter.length > 0) args.push('-untrusted', files.inter);
  args.push(files.leaf);
  const r = await openssl(args);
  return { ok: r.code === 0 && r.stdout.includes(': OK'), output: r.stdout + r.stderr };
}
