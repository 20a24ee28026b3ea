// `pnpm bench ca`: the SVID signer against raw ECDSA P-256 signing measured in the same run.
// Each measure is time-bounded; CSRs come from a pool of distinct keys so no per-key work is
// reused between iterations (a real fleet sends a fresh key with every CSR).
import { generateKeyPairSync, randomBytes, sign, webcrypto } from 'node:crypto';
import { SvidSigner, createAuthority, createSelfSignedRoot } from '@meridian/ca';
import { makeCsr } from '../../packages/ca/src/test-support.ts';
import { x509 } from '../../packages/ca/src/x509.ts';

const MEASURE_MS = Number(process.env.BENCH_MS ?? 3000);
const POOL = 512;

function print(bench: string, value: number, baseline: number): void {
  console.log(JSON.stringify({ bench, value: Math.round(value), unit: 'ops/s', baseline: Math.round(baseline), ratio: Number((value / baseline).toFixed(3)) }));
}

function measureSync(fn: (i: number) => void): number {
  for (let i = 0; i < 200; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + MEASURE_MS;
  while (performance.now() < end) {
    for (let k = 0; k < 50; k++) fn(n++);
  }
  return (n / (performance.now() - start)) * 1000;
}

async function measureAsync(fn: (i: number) => Promise<unknown>, concurrency: number, ms = MEASURE_MS): Promise<number> {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await fn(n++);
    }),
  );
  return (n / (performance.now() - start)) * 1000;
}

const trustDomain = 'cluster.local';
const root = await createSelfSignedRoot({ trustDomain });
const authority = createAuthority({ certDer: root.certDer, key: root.key });
const signer = new SvidSigner({ trustDomain, authority });
const csrs = await Promise.all(Array.from({ length: POOL }, (_, i) => makeCsr({ uris: [`spiffe://${trustDomain}/ns/bench/sa/sa-${i}`] })));
const pick = (i: number): string => (csrs[i % POOL] as { pem: string }).pem;

// Baseline: what one core does when it only signs, no encoding at all.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const tbsLike = randomBytes(400);
const baseline = measureSync(() => sign('sha256', tbsLike, privateKey));

// The signer one request at a time: parse + verify + issue + PEM on effectively one core.
await measureAsync((i) => signer.sign({ csr: pick(i) }), 1, 300);
print('ca.issue', await measureAsync((i) => signer.sign({ csr: pick(i) }), 1), baseline);

// Many requests in flight, as a gRPC server sees them, with verify/sign on the libuv pool
// (uses more than one core: compare with the single-core baseline accordingly).
const offloaded = new SvidSigner({ trustDomain, authority, offloadCrypto: true });
print('ca.issue.offload.concurrent16', await measureAsync((i) => offloaded.sign({ csr: pick(i) }), 16), baseline);

// The general-purpose path for comparison: @peculiar/x509 parses, verifies and builds the cert.
const caKeys = {
  privateKey: await webcrypto.subtle.importKey('pkcs8', root.key.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
};
const rootCert = new x509.X509Certificate(root.certDer);
type CreateParams = Parameters<typeof x509.X509CertificateGenerator.create>[0];
async function peculiarIssue(pem: string): Promise<string> {
  const req = new x509.Pkcs10CertificateRequest(pem);
  if (!(await req.verify())) throw new Error('bad csr');
  const now = Date.now();
  const params: CreateParams = {
    subject: '',
    issuer: rootCert.subjectName,
    notBefore: new Date(now - 300_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: req.publicKey,
    signingKey: caKeys.privateKey as unknown as CreateParams['signingKey'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}/ns/bench/sa/x` }], true),
    ],
  };
  return (await x509.X509CertificateGenerator.create(params)).toString('pem');
}
print('ca.issue.peculiar', await measureAsync((i) => peculiarIssue(pick(i)), 1, Math.min(MEASURE_MS, 2000)), baseline);
