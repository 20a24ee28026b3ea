/**
 * Builders of the Envoy resources a proxyless gRPC client consumes. They return plain
 * objects in protobufjs' snake_case shape; `@type` marks the message inside each `Any`.
 * gRPC constraints honoured here: the listener's name equals the client's target; its only
 * HTTP filter is the router; clusters use EDS (STATIC is rejected); every locality has a
 * weight; priorities are contiguous from 0.
 */
import { Health, type ServicePort } from '@meridian/model';
import type { EndpointSelection } from './endpoint-selection.ts';
import { outboundClusterName, serviceDomains } from './resource-names.ts';

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ADS_CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' };

export function buildApiListener(listenerName: string): object {
  return {
    name: listenerName,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        stat_prefix: listenerName,
        rds: { route_config_name: listenerName, config_source: ADS_CONFIG_SOURCE },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
      },
    },
  };
}

export function buildRouteConfiguration(
  routeName: string,
  hostname: string,
  port: number,
  domainSuffix: string,
): object {
  const domains = [...new Set([routeName, ...serviceDomains(hostname, port, domainSuffix)])];
  return {
    name: routeName,
    virtual_hosts: [
      {
        name: `${hostname}:${port}`,
        domains,
        routes: [{ match: { prefix: '' }, route: { cluster: outboundClusterName(hostname, port) } }],
      },
    ],
  };
}

export function buildEdsCluster(hostname: string, port: ServicePort): object {
  const name = outboundClusterName(hostname, port.port);
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: name },
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 10 },
  };
}

const HEALTH_STATUS: Record<Health, string> = {
  [Health.Healthy]: 'HEALTHY',
  [Health.Unhealthy]: 'UNHEALTHY',
  [Health.Draining]: 'DRAINING',
};

/** The ClusterLoadAssignment of a selection; `/debug/endpointz` shows the same selection. */
export function buildLoadAssignment(clusterName: string, selection: EndpointSelection): object {
  return {
    cluster_name: clusterName,
    endpoints: selection.localities.map((group) => ({
      locality: { region: group.locality.region, zone: group.locality.zone, sub_zone: group.locality.subzone },
      lb_endpoints: group.endpoints.map((ep) => ({
        endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
        health_status: HEALTH_STATUS[ep.health],
        load_balancing_weight: { value: ep.weight },
      })),
      load_balancing_weight: { value: group.weight },
      priority: group.priority,
    })),
  };
}
