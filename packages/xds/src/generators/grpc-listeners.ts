import { ClientKind, PeerMtlsMode, type PolicyWorkload, type ProxyNode, type Service, type ServicePort } from '@meridian/model';
import { changedHostnames, serviceChanged, type ChangeSet } from '../change-set.ts';
import { buildApiListener, buildInboundListener } from '../grpc-resources.ts';
import { hasMtlsOverrides, MtlsMode, mtlsModeOf, parseInboundListenerName } from '../mtls.ts';
import { jwtIssuers } from '../jwt-authn.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { buildRbacFilters, policySetKey, rbacOptions } from '../rbac.ts';
import { candidateHostnames, parseHostPort } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import type { ResourceCache } from './resource-cache.ts';

/**
 * LDS for proxyless gRPC: an API listener per `host:port` a client dials, and the inbound
 * listener an `XdsServer` asks for (`xds.istio.io/grpc/lds/inbound/<ip>:<port>`), which
 * takes the mTLS mode the server's PeerAuthentication gives that port (else the mode of the
 * service whose endpoint is that ip:port, else the global mode) and the RBAC of the
 * AuthorizationPolicies that select the server.
 */
export function grpcListeners(cache: ResourceCache): Generator {
  return {
    needsPush(changes, snapshot, proxy, name) {
      if (changes.everything) return true;
      if (name === undefined || parseInboundListenerName(name)) {
        // Which service owns an ip:port is not known from the name, and may just have changed:
        // only a service with a mode of its own can move a listener away from the global mode.
        if (changes.securityPolicy || inboundAffected(changes, snapshot)) return true;
        if (name !== undefined) return false;
      }
      if (name === undefined) return changes.anyService;
      return hostnamesOfName(snapshot, proxy, name).some((h) => serviceChanged(changes, h));
    },
    generate(snapshot, proxy, names) {
      const wanted = names ?? snapshot.services.flatMap((s) => s.ports.map((p) => `${s.hostname}:${p.port}`));
      return buildEach(wanted, (name) => grpcListener(cache, snapshot, proxy, name));
    },
  };
}

/** A proxyless listener by name (API or inbound); also what an Envoy naming one gets. */
export function grpcListener(cache: ResourceCache, snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined {
  const inbound = parseInboundListenerName(name);
  if (inbound) {
    // gRPC cannot tell TLS from plaintext on one port: PERMISSIVE is served as STRICT (reported).
    const tls = inboundMode(snapshot, proxy, inbound.address, inbound.port) !== PeerMtlsMode.Disable;
    const policies = snapshot.authorizationFor(proxy);
    // No JWT is validated here: where a RequestAuthentication applies, its fields are unknown to RBAC.
    const issuers = jwtIssuers(snapshot.requestAuthenticationFor(proxy));
    const view = `${tls ? 'tls' : 'plain'}|${policySetKey(policies)}|${issuers.length > 0}`;
    return cache.resource({ type: TypeUrl.Listener, name, view }, [{ on: 'security-policy' }], () =>
      buildInboundListener(name, inbound.address, inbound.port, tls, buildRbacFilters(policies, rbacOptions(snapshot, 'http', ClientKind.Grpc, issuers), name)),
    );
  }
  const target = resolveTarget(snapshot, proxy, name);
  if (!target) return undefined;
  const { hostname } = target.service;
  return cache.resource({ type: TypeUrl.Listener, name, view: hostname }, [{ on: 'service', hostname }], () => buildApiListener(name));
}

/**
 * The mode a server's port is served with: its PeerAuthentication's, else the config mode of
 * the service whose endpoint listens there. When two services share the endpoint and
 * disagree, strict wins: a plaintext listener would let the strict service's callers down
 * silently, a TLS one makes the conflict fail loudly.
 */
export function inboundMode(snapshot: PushSnapshot, workload: PolicyWorkload, address: string, port: number): PeerMtlsMode {
  const owners = hasMtlsOverrides(snapshot.mtls) ? snapshot.endpointOwners(address, port) : [];
  return snapshot.inboundMtls(workload, port, owners);
}

function inboundAffected(changes: ChangeSet, snapshot: PushSnapshot): boolean {
  if (!hasMtlsOverrides(snapshot.mtls)) return false;
  const global = snapshot.mtls?.mode ?? MtlsMode.Disable;
  // The config's modes only: a PeerAuthentication change reaches these listeners as such.
  return changedHostnames(changes).some((h) => mtlsModeOf(snapshot.mtls, h) !== global);
}

/** The hostnames a `host:port` name may stand for, from the proxy's namespace. */
export function hostnamesOfName(snapshot: PushSnapshot, proxy: ProxyNode, name: string): string[] {
  return candidateHostnames(parseHostPort(name).host, proxy.namespace, snapshot.domainSuffix);
}

/** `host:port` or `host` (a single-port service) → the service port it names. */
export function resolveTarget(snapshot: PushSnapshot, proxy: ProxyNode, name: string): { service: Service; port: ServicePort } | undefined {
  const { port } = parseHostPort(name);
  for (const hostname of hostnamesOfName(snapshot, proxy, name)) {
    const service = snapshot.serviceFor(proxy, hostname);
    if (!service) continue;
    const servicePort = port === undefined ? (service.ports.length === 1 ? service.ports[0] : undefined) : service.ports.find((p) => p.port === port);
    if (servicePort) return { service, port: servicePort };
  }
  return undefined;
}
