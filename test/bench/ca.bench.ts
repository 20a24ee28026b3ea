// `pnpm bench ca`: the SVID signer against raw ECDSA P-256 signing measured in the same run.
// Each measure is time-bounded (BENCH_MS, default 3 s). CSRs come from a pool of distinct keys
// so no per-key work is reused between iterations: a real fleet sends a fresh key with every CSR.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { SvidSigner, createAuthority, createCsr, createSelfSignedRoot } from '@meridian/ca';

const MEASURE_MS = Number(process.env.BENCH_MS ?? 3000);
const POOL = 1024;

function print(bench: string, value: number, baseline: number): void {
  console.log(
    JSON.stringify({ bench, value: Math.round(value), unit: 'ops/s', baseline: Math.round(baseline), ratio: Number((value / baseline).toFixed(3)) }),
  );
}

function measureSync(fn: (i: number) => unknown): number {
  for (let i = 0; i < 200; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + MEASURE_MS;
  while (performance.now() < end) {
    for (let k = 0; k < 50; k++) fn(n++);
  }
  return (n / (performance.now() - start)) * 1000;
}

async function measureAsync(fn: (i: number) => Promise<unknown>, concurrency: number): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + MEASURE_MS;
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
const csrs = Array.from({ length: POOL }, (_, i) =>
  createCsr({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, uris: [`spiffe://${trustDomain}/ns/bench/sa/sa-${i}`] }).pem,
);
const pick = (i: number): string => csrs[i % POOL] ?? '';

// Baseline: one core doing nothing but ECDSA P-256 signatures over certificate-sized input.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const tbsLike = randomBytes(400);
const baseline = measureSync(() => sign('sha256', tbsLike, privateKey));

// Full issue step (PEM CSR parse + signature verify + SPIFFE checks + encode + sign + PEM), one
// request at a time: effectively single-core, comparable with the baseline.
const inline = new SvidSigner({ trustDomain, authority });
print('ca.issue', await measureAsync((i) => inline.sign({ csr: pick(i) }), 1), baseline);

// Many requests in flight, as a gRPC server sees them, with verify/sign on the libuv pool.
// This one may use every core, so its ratio is not a per-core figure.
const offloaded = new SvidSigner({ trustDomain, authority, offloadCrypto: true });
print('ca.issue.offload.concurrent16', await measureAsync((i) => offloaded.sign({ csr: pick(i) }), 16), baseline);

// For reading the figures: the CSR check alone costs one ECDSA verify, ~2.5x a sign, which
// bounds ca.issue from above at about verify+sign whatever the encoder does.
const sig = sign('sha256', tbsLike, privateKey);
print('ca.floor.verify', measureSync(() => verify('sha256', tbsLike, publicKey, sig)), baseline);
