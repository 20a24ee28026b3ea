/**
 * Builders of the Envoy resources a proxyless gRPC client consumes. They return plain
 * objects in protobufjs' snake_case shape; `@type` marks the message inside each `Any`.
 * gRPC constraints honoured here: the listener's name equals the client's target; its only
 * HTTP filter is the router; clusters use EDS (STATIC is rejected); every locality has a
 * weight; priorities are contiguous from 0. TLS contexts name bootstrap certificate provider
 * instances only: grpc-js-xds supports neither SDS nor inline certificates.
 */
import { discoveryFields, type ClusterDiscovery } from './cluster-discovery.ts';
import { ClientKind, type ClusterPolicy, type ServicePort } from '@meridian/model';
import {
  CERTIFICATE_PROVIDER_INSTANCE,
  IDENTITY_CERTIFICATE_NAME,
  ROOT_CERTIFICATE_NAME,
  type StringMatcher,
} from './mtls.ts';
import { policyClusterFields } from './policy-clusters.ts';
import { FAULT_FILTER } from './policy-routes.ts';
import { outboundClusterName, serviceDomains } from './resource-names.ts';
import { ADS_CONFIG_SOURCE, DOWNSTREAM_TLS_TYPE, HCM_TYPE, ROUTER_FILTER, UPSTREAM_TLS_TYPE } from './xds-constants.ts';


export function buildApiListener(listenerName: string): object {
  return {
    name: listenerName,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        stat_prefix: listenerName,
        rds: { route_config_name: listenerName, config_source: ADS_CONFIG_SOURCE },
        // gRFC A33: a route's fault config acts only through the fault filter in the chain.
        http_filters: [FAULT_FILTER, ROUTER_FILTER],
      },
    },
  };
}

/**
 * The listener an `XdsServer` bound on `address:port` asks for. One filter chain without a
 * match (grpc-js-xds builds its own catch-all match from an unset one, while a set but
 * empty one matches nothing), one HCM with an inline route that lets every call through
 * (`non_forwarding_action`: a server forwards nothing), and, for mTLS, a TLS socket that
 * requires a client certificate signed by the bootstrap's roots. `rbac`: the server's RBAC
 * filters, before the router (grpc-js-xds applies them with `GRPC_XDS_EXPERIMENTAL_RBAC=true`
 * and rejects the listener without it: never served with its policy left out). grpc-js-xds
 * also checks that `address` equals the address it bound.
 */
export function buildInboundListener(name: string, address: string, port: number, mtls: boolean, rbac: readonly object[] = []): object {
  const inbound = `inbound|${port}||`;
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    traffic_direction: 'INBOUND',
    filter_chains: [
      {
        name: inbound,
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: inbound,
              route_config: {
                name: inbound,
                virtual_hosts: [
                  { name: inbound, domains: ['*'], routes: [{ match: { prefix: '' }, non_forwarding_action: {} }] },
                ],
              },
              http_filters: [...rbac, ROUTER_FILTER],
            },
          },
        ],
        ...(mtls ? { transport_socket: tlsSocket(DOWNSTREAM_TLS_TYPE, downstreamTlsContext()) } : {}),
      },
    ],
  };
}

function tlsSocket(typeUrl: string, context: object): object {
  return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': typeUrl, ...context } };
}

/** Our certificate, and the roots a peer's chain must end in, both from the bootstrap. */
function commonTlsContext(peerSans: readonly StringMatcher[]): object {
  return {
    tls_certificate_provider_instance: { instance_name: CERTIFICATE_PROVIDER_INSTANCE, certificate_name: IDENTITY_CERTIFICATE_NAME },
    validation_context: {
      ca_certificate_provider_instance: { instance_name: CERTIFICATE_PROVIDER_INSTANCE, certificate_name: ROOT_CERTIFICATE_NAME },
      ...(peerSans.length > 0 ? { match_subject_alt_names: peerSans } : {}),
    },
  };
}

/**
 * A server authorizes callers elsewhere (RBAC), not by SAN: grpc-js-xds ignores SAN matchers
 * on the server side, so none are sent.
 */
function downstreamTlsContext(): object {
  return { common_tls_context: commonTlsContext([]), require_client_certificate: { value: true } };
}

/** The client side: present our certificate, accept only the service's identities. */
function upstreamTlsSocket(serverSans: readonly StringMatcher[]): object {
  return tlsSocket(UPSTREAM_TLS_TYPE, { common_tls_context: commonTlsContext(serverSans) });
}

/** `routes`: the host's compiled rules for gRPC clients, or its default route (`policy-routes.ts`). */
export function buildRouteConfiguration(routeName: string, hostname: string, port: number, domainSuffix: string, routes: readonly object[]): object {
  const domains = [...new Set([routeName, ...serviceDomains(hostname, port, domainSuffix)])];
  return {
    name: routeName,
    virtual_hosts: [{ name: `${hostname}:${port}`, domains, routes }],
  };
}

/**
 * `serverSans` set: the cluster speaks mTLS and accepts only servers with one of those SANs.
 * A DestinationRule's `policy` adds what gRPC clients honour of it (ring hash, max requests).
 */
export function buildEdsCluster(hostname: string, port: ServicePort, serverSans?: readonly StringMatcher[], subset = '', policy?: ClusterPolicy, discovery?: ClusterDiscovery): object {
  const name = outboundClusterName(hostname, port.port, subset);
  return {
    name,
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 10 },
    ...policyClusterFields(policy, ClientKind.Grpc),
    ...(serverSans && policy?.tlsMode !== 'DISABLE' ? { transport_socket: upstreamTlsSocket(serverSans) } : {}),
    // gRPC resolves one name per cluster (gRFC A37's logical DNS): it takes no other DNS kind.
    ...discoveryFields(name, discovery?.type === 'dns' ? { ...discovery, logical: true } : (discovery ?? { type: 'eds' })),
  };
}
