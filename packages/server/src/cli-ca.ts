/** CLI commands of the CA: `meridian token`, `meridian certificate`, `meridian ca intermediate`. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CertificateClient, createCsr, jwtSvidServiceDefinition, mintIntermediateCacerts, workloadSpiffeId, type FetchJwtSvidRequestMessage, type FetchJwtSvidResponseMessage } from '@meridian/ca';
import { createLogger } from '@meridian/model';
import { loadLocalJwtIssuer } from './ca-runtime.ts';
import { loadConfig, readEnv } from './config.ts';

export class UsageError extends Error {}

/** Mints a token from the local issuer of a config's CA directory (embedded default, VMs). */
export async function tokenCommand(values: {
  config?: string;
  namespace?: string;
  serviceAccount?: string;
  ttl: string;
  audience: string;
}): Promise<number> {
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE is required (the CA directory and issuer come from it)');
  if (!values.namespace || !values.serviceAccount) throw new UsageError('--namespace and --service-account are required');
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new UsageError('--ttl must be a positive number of seconds');
  const config = loadConfig(file);
  if (!config.ca.localIssuer.enabled) throw new UsageError('ca.localIssuer.enabled is false in this config');
  // The same key the server verifies with: ca.dir, or the CA Secret when ca.secret is on.
  const issuer = await loadLocalJwtIssuer(config, createLogger({ level: 'warn', destination: process.stderr }));
  process.stdout.write(
    `${issuer.mint({ namespace: values.namespace, serviceAccount: values.serviceAccount, ttlSeconds, audience: values.audience })}\n`,
  );
  return 0;
}

/**
 * Gets an SVID the way a workload agent does: a new key and CSR, CreateCertificate over TLS
 * with a token, and cert-chain.pem / key.pem / root-cert.pem written atomically to a
 * directory (what a gRPC `file_watcher` certificate provider reads).
 */
/** How the commands that call Meridian's TLS port as a workload reach it and prove who they are. */
interface WorkloadCallOptions {
  server: string;
  serverName?: string;
  rootCert?: string;
  token?: string;
  tokenFile?: string;
  clusterId?: string;
}

/** The root to verify Meridian with and the token to present, or a usage error naming what is missing. */
function workloadCredentials(values: WorkloadCallOptions): { rootPem: Buffer; token: string } {
  if (!values.rootCert) throw new UsageError('--root-cert FILE is required (from /trust-bundle) to verify the server');
  const token = values.token ?? (values.tokenFile ? readFileSync(values.tokenFile, 'utf8').trim() : undefined);
  if (!token) throw new UsageError('--token or --token-file is required');
  return { rootPem: readFileSync(values.rootCert), token };
}

export async function certificateCommand(values: WorkloadCallOptions & {
  trustDomain: string;
  namespace?: string;
  serviceAccount?: string;
  ttl: string;
  out?: string;
}): Promise<number> {
  const { namespace, out, serviceAccount } = values;
  if (!namespace || !serviceAccount || !out) throw new UsageError('--namespace, --service-account and --out are required');
  const { rootPem, token } = workloadCredentials(values);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = createCsr({ key: privateKey, uris: [workloadSpiffeId(values.trustDomain, namespace, serviceAccount)] });
  // The serving certificate names meridian.<ns>.svc and localhost; --server-name says which
  // name to check when --server is an address (a port-forward, a load balancer IP).
  const client = new CertificateClient({
    address: values.server,
    credentials: grpc.credentials.createSsl(rootPem),
    ...(values.serverName ? { channelOptions: { 'grpc.ssl_target_name_override': values.serverName } } : {}),
  });
  try {
    const chain = await client.createCertificate({
      csr: csr.pem,
      token,
      validitySeconds: Number(values.ttl),
      ...(values.clusterId ? { clusterId: values.clusterId } : {}),
    });
    mkdirSync(out, { recursive: true, mode: 0o700 });
    writeAtomic(path.join(out, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    writeAtomic(path.join(out, 'cert-chain.pem'), chain.join(''));
    writeAtomic(path.join(out, 'root-cert.pem'), chain.at(-1) ?? '');
    process.stdout.write(`wrote ${out}/{cert-chain,key,root-cert}.pem for ${workloadSpiffeId(values.trustDomain, namespace, serviceAccount)}\n`);
    return 0;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    process.stderr.write(`certificate request failed: ${grpc.status[e.code ?? grpc.status.UNKNOWN] ?? e.code}: ${e.details ?? String(err)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

/**
 * `meridian jwt-svid`: a JWT-SVID for the identity the token proves, from the JWT-SVID API on
 * the TLS port. The token alone goes to stdout, so `$(meridian jwt-svid …)` is usable as is.
 */
export async function jwtSvidCommand(values: WorkloadCallOptions & { audience?: string[]; ttl: string }): Promise<number> {
  if (!values.audience?.length) throw new UsageError('--audience is required (repeat it for several)');
  const { rootPem, token } = workloadCredentials(values);
  const client = new grpc.Client(values.server, grpc.credentials.createSsl(rootPem), values.serverName ? { 'grpc.ssl_target_name_override': values.serverName } : {});
  const method = jwtSvidServiceDefinition()['FetchJwtSvid'] as grpc.MethodDefinition<FetchJwtSvidRequestMessage, FetchJwtSvidResponseMessage>;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  if (values.clusterId) metadata.set('clusterid', values.clusterId);
  try {
    const answer = await new Promise<FetchJwtSvidResponseMessage>((resolve, reject) =>
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { audience: values.audience ?? [], ttl_seconds: values.ttl }, metadata, { deadline: Date.now() + 10_000 }, (err, res) => (err || !res ? reject(err) : resolve(res))),
    );
    process.stdout.write(`${answer.token}\n`);
    process.stderr.write(`JWT-SVID for ${answer.spiffe_id}, expires ${new Date(Number(answer.expires_at) * 1000).toISOString()}\n`);
    return 0;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    process.stderr.write(`JWT-SVID request failed: ${grpc.status[e.code ?? grpc.status.UNKNOWN] ?? e.code}: ${e.details ?? String(err)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

/** `meridian ca intermediate`: an intermediate for another Meridian, from a shared root. */
export async function caIntermediateCommand(values: { rootDir?: string; cluster?: string; out?: string; trustDomain?: string }): Promise<number> {
  if (!values.rootDir || !values.cluster || !values.out) throw new UsageError('--root-dir, --cluster and --out are required');
  await mintIntermediateCacerts({
    rootDir: values.rootDir,
    clusterId: values.cluster,
    outDir: values.out,
    ...(values.trustDomain ? { trustDomain: values.trustDomain } : {}),
  });
  process.stdout.write(`wrote an intermediate CA for cluster ${values.cluster} to ${values.out} (Istio cacerts layout)\n`);
  return 0;
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true }); // a failed write (disk full) leaves no temporary file behind
    throw err;
  }
}
