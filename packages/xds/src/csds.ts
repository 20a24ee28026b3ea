import * as grpc from '@grpc/grpc-js';
import { errorMessage, type Logger, type ProxyNode } from '@meridian/model';
import { MAX_NODE_ID_LENGTH, type AdsServer, type PeerCall, type PeerIdentifier } from './ads-server.ts';
import { protoType } from './protos.ts';
import { MalformedRequest, requestCodec } from './request-codec.ts';
import { compileStringMatch, type StringMatch, type StringMatcherMessage } from './string-match.ts';
import { TypeUrl } from './type-url.ts';
import type { ResourceStatus, XdsConnection } from './stream-state.ts';

const CSDS_SERVICE = 'envoy.service.status.v3.ClientStatusDiscoveryService';

interface ClientStatusRequestMessage {
  node?: { id?: string } | null;
  node_matchers?: Array<{ node_id?: StringMatcherMessage | null; node_metadatas?: unknown[] }>;
  exclude_resource_contents?: boolean;
}

/** A request we cannot answer: ends that call with a status, never the process. */
class CsdsRequestError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, message: string) {
    super(message);
    this.code = code;
  }
}

export interface CsdsOptions {
  readonly logger?: Logger;
  /**
   * When set, every call must prove a workload identity this way (on the TLS port: a
   * verified client certificate); others are refused with UNAUTHENTICATED.
   */
  readonly identify?: PeerIdentifier;
}

/**
 * Registers `envoy.service.status.v3.ClientStatusDiscoveryService` on a gRPC server: for
 * every ADS stream (both variants) whose node matches, one `ClientConfig` with a
 * `GenericXdsConfig` per resource, as the server sees it (see `XdsConnection.resourceStatuses`).
 * Node matchers are ORed; none means every proxy. Metadata matchers are not supported
 * (UNIMPLEMENTED) rather than silently matching everything. `safe_regex` is RE2 (linear
 * time, Envoy's own limit on program size); a matcher that does not compile, and bytes that
 * are not a ClientStatusRequest, are answered INVALID_ARGUMENT with the reason. Secrets are
 * listed by name, version and status only: their bodies (a private key) never leave through CSDS.
 */
export function addCsdsService(server: grpc.Server, ads: AdsServer, options: CsdsOptions = {}): void {
  const logger = options.logger?.child({ component: 'csds' });
  const request = requestCodec('envoy.service.status.v3.ClientStatusRequest', { longs: String, enums: String, oneofs: true });
  const responseType = protoType('envoy.service.status.v3.ClientStatusResponse');
  const method = (name: string, responseStream: boolean): grpc.MethodDefinition<object, object> => ({
    path: `/${CSDS_SERVICE}/${name}`,
    requestStream: responseStream,
    responseStream,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: (value: object) => Buffer.from(responseType.encode(responseType.fromObject(value)).finish()),
    responseDeserialize: (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { longs: String, enums: String }),
  });
  const answer = (request: ClientStatusRequestMessage | MalformedRequest) => {
    if (request instanceof MalformedRequest) throw new CsdsRequestError(grpc.status.INVALID_ARGUMENT, request.details);
    return clientStatusResponse(ads, request);
  };
  /** Undefined when the caller may ask; else why not (logged, never sent back). */
  const refusal = (call: PeerCall): string | undefined => {
    const proof = options.identify?.(call);
    return proof && 'error' in proof ? proof.error : undefined;
  };
  const unauthenticated = (call: PeerCall, reason: string): Partial<grpc.StatusObject> => {
    logger?.warn({ peer: call.getPeer(), reason }, 'CSDS call refused: no valid client certificate');
    return { code: grpc.status.UNAUTHENTICATED, details: 'a valid client certificate is required' };
  };
  const toStatus = (err: unknown): Partial<grpc.StatusObject> => {
    if (err instanceof CsdsRequestError) return { code: err.code, details: err.message };
    logger?.error({ err }, 'CSDS request failed');
    return { code: grpc.status.INTERNAL, details: errorMessage(err) };
  };

  server.addService(
    { StreamClientStatus: method('StreamClientStatus', true), FetchClientStatus: method('FetchClientStatus', false) },
    {
      FetchClientStatus: (
        call: grpc.ServerUnaryCall<ClientStatusRequestMessage | MalformedRequest, object>,
        callback: grpc.sendUnaryData<object>,
      ) => {
        const refused = refusal(call);
        if (refused !== undefined) {
          callback(unauthenticated(call, refused));
          return;
        }
        try {
          callback(null, answer(call.request));
        } catch (err) {
          callback(toStatus(err));
        }
      },
      StreamClientStatus: (call: grpc.ServerDuplexStream<ClientStatusRequestMessage | MalformedRequest, object>) => {
        const refused = refusal(call);
        if (refused !== undefined) {
          call.emit('error', unauthenticated(call, refused));
          return;
        }
        call.on('data', (request: ClientStatusRequestMessage | MalformedRequest) => {
          try {
            call.write(answer(request));
          } catch (err) {
            call.emit('error', toStatus(err));
          }
        });
        call.on('end', () => call.end());
        call.on('error', (err) => logger?.debug({ err: errorMessage(err) }, 'CSDS stream error'));
        call.on('cancelled', () => logger?.debug('CSDS stream cancelled'));
      },
    },
  );
}

function clientStatusResponse(ads: AdsServer, request: ClientStatusRequestMessage): object {
  const match = nodeMatcher(request);
  const withContents = !request.exclude_resource_contents;
  return {
    config: ads
      .list()
      .filter((c) => match(c.proxy.id))
      .map((c) => clientConfig(c, c.resourceStatuses((t, _p, n) => ads.generate(c, t, n)), withContents)),
  };
}

function clientConfig(conn: XdsConnection, statuses: readonly ResourceStatus[], withContents: boolean): object {
  return {
    node: nodeMessage(conn.proxy),
    generic_xds_configs: statuses.map((s) => ({
      type_url: s.typeUrl,
      name: s.name,
      ...(s.version === undefined ? {} : { version_info: s.version }),
      ...(withContents && s.resource && s.typeUrl !== TypeUrl.Secret ? { xds_config: anyMessage(s.resource.any) } : {}),
      ...(s.lastUpdated === undefined ? {} : { last_updated: timestamp(s.lastUpdated) }),
      config_status: s.configStatus,
      client_status: s.clientStatus,
      ...(s.error
        ? { error_state: { details: s.error.message, last_update_attempt: timestamp(s.error.at), version_info: s.error.version } }
        : {}),
    })),
  };
}

function nodeMessage(proxy: ProxyNode): object {
  const { region, zone, subzone } = proxy.locality;
  return { id: proxy.id, locality: { region, zone, sub_zone: subzone } };
}

/** The resource's own `Any`, decoded once more only so protobufjs can re-embed it. */
function anyMessage(bytes: Buffer): object {
  const any = protoType('google.protobuf.Any');
  return any.decode(bytes);
}

function timestamp(ms: number): object {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** Each matcher costs a compile per request and a test per stream; a real caller sends one or two. */
export const MAX_NODE_MATCHERS = 64;

function nodeMatcher(request: ClientStatusRequestMessage): (nodeId: string) => boolean {
  const callerId = request.node?.id ?? '';
  if (callerId.length > MAX_NODE_ID_LENGTH) {
    throw new CsdsRequestError(grpc.status.INVALID_ARGUMENT, `node.id is ${callerId.length} characters; at most ${MAX_NODE_ID_LENGTH} are accepted`);
  }
  const matchers = request.node_matchers ?? [];
  if (matchers.length === 0) return () => true;
  if (matchers.length > MAX_NODE_MATCHERS) {
    throw new CsdsRequestError(grpc.status.INVALID_ARGUMENT, `${matchers.length} node_matchers; at most ${MAX_NODE_MATCHERS} are accepted`);
  }
  const tests = matchers.map((m, i): StringMatch => {
    if ((m.node_metadatas ?? []).length > 0) {
      throw new CsdsRequestError(grpc.status.UNIMPLEMENTED, 'node_metadatas matchers are not supported');
    }
    if (!m.node_id) return () => true;
    const pattern = m.node_id.exact ?? m.node_id.prefix ?? m.node_id.suffix ?? m.node_id.contains ?? '';
    if (pattern.length > MAX_NODE_ID_LENGTH) {
      // No node id that long is accepted, so the matcher could never match.
      const reason = `pattern is ${pattern.length} characters, longer than any accepted node id (${MAX_NODE_ID_LENGTH})`;
      throw new CsdsRequestError(grpc.status.INVALID_ARGUMENT, `node_matchers[${i}].node_id: ${reason}`);
    }
    const match = compileStringMatch(m.node_id);
    if (typeof match !== 'function') throw new CsdsRequestError(grpc.status.INVALID_ARGUMENT, `node_matchers[${i}].node_id: ${match.error}`);
    return match;
  });
  return (id) => tests.some((t) => t(id));
}
