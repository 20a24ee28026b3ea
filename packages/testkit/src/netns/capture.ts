/**
 * Istio's transparent capture (what istio-init writes), as iptables-restore input for one pod's
 * network namespace: outbound TCP to 15001, inbound TCP to 15006, the sidecar's own traffic
 * (its UID and GID) and its connections to the application from 127.0.0.6 left alone.
 */

/** Istio's sidecar UID and GID: the capture lets their traffic out untouched. */
export const SIDECAR_UID = 1337;
export const SIDECAR_GID = 1337;
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
/** Ports of the sidecar itself that inbound connections reach directly (Istio skips the same). */
const INBOUND_EXCLUDED_PORTS = [15008, 15020, 15021, 15090];

export interface CaptureOptions {
  readonly uid?: number;
  readonly gid?: number;
  /** Inbound ports left uncaptured besides the sidecar's own. */
  readonly excludeInboundPorts?: readonly number[];
}

export function captureRules(options: CaptureOptions = {}): string {
  const uid = options.uid ?? SIDECAR_UID;
  const gid = options.gid ?? SIDECAR_GID;
  const excluded = [...INBOUND_EXCLUDED_PORTS, ...(options.excludeInboundPorts ?? [])];
  const ownerRules = (match: '--uid-owner' | '--gid-owner', id: number) => [
    // The sidecar dialling its own pod's address (a service it is itself behind): inbound.
    `-A MERIDIAN_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner ${match} ${id} -j MERIDIAN_IN_REDIRECT`,
    // The application talking to itself over loopback or its own address: never captured.
    `-A MERIDIAN_OUTPUT -o lo -m owner ! ${match} ${id} -j RETURN`,
    `-A MERIDIAN_OUTPUT -m owner ${match} ${id} -j RETURN`,
  ];
  return [
    '*nat',
    ':MERIDIAN_INBOUND - [0:0]',
    ':MERIDIAN_IN_REDIRECT - [0:0]',
    ':MERIDIAN_OUTPUT - [0:0]',
    ':MERIDIAN_REDIRECT - [0:0]',
    '-A PREROUTING -p tcp -j MERIDIAN_INBOUND',
    '-A OUTPUT -p tcp -j MERIDIAN_OUTPUT',
    ...excluded.map((port) => `-A MERIDIAN_INBOUND -p tcp --dport ${port} -j RETURN`),
    '-A MERIDIAN_INBOUND -p tcp -j MERIDIAN_IN_REDIRECT',
    `-A MERIDIAN_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${INBOUND_CAPTURE_PORT}`,
    // The sidecar's connections to its own application (inbound clusters bind 127.0.0.6).
    '-A MERIDIAN_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
    ...ownerRules('--uid-owner', uid),
    ...ownerRules('--gid-owner', gid),
    '-A MERIDIAN_OUTPUT -d 127.0.0.1/32 -j RETURN',
    '-A MERIDIAN_OUTPUT -j MERIDIAN_REDIRECT',
    `-A MERIDIAN_REDIRECT -p tcp -j REDIRECT --to-ports ${OUTBOUND_CAPTURE_PORT}`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Empties the nat table again: what `captureRules` added, and nothing else lives there. */
export const NO_CAPTURE_RULES = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', 'COMMIT', ''].join('\n');
