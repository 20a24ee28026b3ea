import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { createCsr, type SvidSigner } from '@meridian/ca';
import { errorMessage, type Logger } from '@meridian/model';
import type { SecretSource, SecretSubject, WorkloadCertificate } from '@meridian/xds';

export interface WorkloadSecretStoreOptions {
  /** Issues a fresh certificate (new key) for a SPIFFE ID. */
  readonly issue: (identity: string) => Promise<WorkloadCertificate>;
  readonly rootsPem: () => string;
  /** A connection's certificate was issued or renewed: serve it to that connection. */
  readonly onChange: (connection: string) => void;
  /** Roots changed (CA reload): every connection's ROOTCA. */
  readonly onRootsChange: () => void;
  readonly logger: Logger;
  /** Renewal after a failed issuance. Default 30 s. */
  readonly retryMs?: number;
}

interface Entry {
  readonly identity: string;
  cert: WorkloadCertificate | undefined;
  notAfter: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * SDS certificates per ADS connection, for the identity that connection's TLS handshake
 * proved, never for a node id (which any client may claim). Issued on the connection's first
 * SDS request, renewed at two thirds of their lifetime, forgotten when the connection ends;
 * each change is served to that one connection (`onChange`), never pushed to the mesh.
 */
export class WorkloadSecretStore implements SecretSource {
  private readonly options: WorkloadSecretStoreOptions;
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();

  constructor(options: WorkloadSecretStoreOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'sds' });
  }

  workloadCertificate(subject: SecretSubject): WorkloadCertificate | undefined {
    if (subject.identity === undefined) return undefined;
    let entry = this.entries.get(subject.connection);
    if (!entry) {
      entry = { identity: subject.identity, cert: undefined, notAfter: undefined, timer: undefined };
      this.entries.set(subject.connection, entry);
      this.issue(subject.connection, entry, 'first request');
    }
    return entry.cert;
  }

  rootsPem(): string {
    return this.options.rootsPem();
  }

  release(connection: string): void {
    const entry = this.entries.get(connection);
    if (entry?.timer) clearTimeout(entry.timer);
    this.entries.delete(connection);
  }

  /**
   * The signing CA changed: every connection gets a certificate from the new one, and every
   * connection its new roots at once (not at its next renewal).
   */
  authorityChanged(): void {
    this.options.onRootsChange();
    for (const [connection, entry] of this.entries) this.issue(connection, entry, 'CA changed');
  }

  /** Per connection: identity and expiry, never key or certificate (`/debug/secretz`). */
  view(): object {
    return {
      connections: [...this.entries].map(([connection, e]) => ({
        connection,
        identity: e.identity,
        notAfter: e.notAfter === undefined ? null : new Date(e.notAfter).toISOString(),
      })),
    };
  }

  stop(): void {
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    this.entries.clear();
  }

  private issue(connection: string, entry: Entry, why: string): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    this.options.issue(entry.identity).then(
      (cert) => {
        if (this.entries.get(connection) !== entry) return; // the connection ended meanwhile
        const leaf = new X509Certificate(cert.certChainPem);
        entry.notAfter = new Date(leaf.validTo).getTime();
        entry.cert = cert;
        this.logger.debug({ conn: connection, identity: entry.identity, why, notAfter: leaf.validTo }, 'workload certificate issued');
        // From now, not from notBefore: the signer backdates it, which would bring renewal forward.
        this.schedule(connection, entry, ((entry.notAfter - Date.now()) * 2) / 3);
        this.options.onChange(connection);
      },
      (err: unknown) => {
        if (this.entries.get(connection) !== entry) return;
        this.logger.warn({ conn: connection, identity: entry.identity, why, error: errorMessage(err) }, 'workload certificate not issued; retrying');
        this.schedule(connection, entry, this.options.retryMs ?? 30_000);
      },
    );
  }

  private schedule(connection: string, entry: Entry, inMs: number): void {
    entry.timer = setTimeout(() => this.issue(connection, entry, 'renewal'), Math.max(1000, Math.min(inMs, 2 ** 31 - 1)));
    entry.timer.unref();
  }
}

/**
 * SDS without an extra daemon: a sidecar on the TLS port proved its identity with its SVID,
 * so Meridian issues it a fresh SVID for exactly that identity (new key, same CA path as the
 * certificate API).
 */
export async function issueWorkloadCertificate(signer: SvidSigner, identity: string): Promise<WorkloadCertificate> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = createCsr({ key: privateKey, uris: [identity] });
  const issued = await signer.sign({ csr: csr.pem });
  return { certChainPem: issued.certChainPem.join(''), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
