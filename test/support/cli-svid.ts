/**
 * An SVID the way an operator gets one from a running Meridian: `meridian token` mints a
 * service-account token from the local issuer, `meridian certificate` trades it for a
 * certificate over the TLS port and writes `cert-chain.pem` and `key.pem` into `out`.
 */
import path from 'node:path';
import { MeridianProcess, type MeridianCommand } from './meridian-process.ts';

export interface CliSvidOptions {
  readonly meridian: MeridianProcess;
  readonly config: string;
  /** PEM file with the roots the client trusts for Meridian's serving certificate. */
  readonly rootCert: string;
  readonly out: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** The `meridian` to run (default: the sources). */
  readonly command?: MeridianCommand;
}

export interface CliSvid {
  readonly code: number | null;
  readonly stderr: string;
  readonly chainFile: string;
  readonly keyFile: string;
}

export async function issueSvidWithCli(opts: CliSvidOptions): Promise<CliSvid> {
  const identity = ['--namespace', opts.namespace ?? 'demo', '--service-account', opts.serviceAccount ?? 'echo'];
  const token = await MeridianProcess.run(['token', '--config', opts.config, ...identity], {}, opts.command);
  if (token.code !== 0) return { code: token.code, stderr: token.stderr, chainFile: '', keyFile: '' };
  const got = await MeridianProcess.run([
    'certificate', '--server', opts.meridian.xdsTlsAddress, '--server-name', 'localhost', '--root-cert', opts.rootCert,
    '--token', token.stdout.trim(), ...identity, '--out', opts.out,
  ], {}, opts.command);
  return { code: got.code, stderr: got.stderr, chainFile: path.join(opts.out, 'cert-chain.pem'), keyFile: path.join(opts.out, 'key.pem') };
}
