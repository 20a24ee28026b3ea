import * as grpc from '@grpc/grpc-js';
import { ResponseInbox, adsServiceClient } from './response-inbox.ts';
import { decodeAny, type AnyMessage } from './envoy-protos.ts';

export const TypeUrls = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  Route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  Endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

export interface TestNode {
  id: string;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** Plain strings; sent as a google.protobuf.Struct. */
  metadata?: Record<string, string>;
}

export interface AdsRequest {
  typeUrl: string;
  names?: string[];
  version?: string;
  nonce?: string;
  error?: { code: number; message: string };
  /** Send the node on this request (default: only on the stream's first request, as gRPC does). */
  withNode?: boolean;
}

export interface AdsResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: Array<Record<string, unknown>>;
  /** Resource names in order (listener/cluster `name`, route `name`, CLA `cluster_name`). */
  names: string[];
}

type RawResponse = { version_info?: string; type_url?: string; nonce?: string; resources?: AnyMessage[] };

/**
 * A hand-driven ADS (SotW) client for protocol tests: each request is written exactly as
 * the test says, and responses are queued for the test to take one by one.
 */
export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<object, RawResponse>;
  private readonly inbox = new ResponseInbox<AdsResponse>('ADS');
  private sentFirst = false;
  readonly node: TestNode;

  private constructor(address: string, node: TestNode, credentials: grpc.ChannelCredentials) {
    this.node = node;
    this.client = adsServiceClient(address, credentials);
    this.call = (this.client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<object, RawResponse> }).StreamAggregatedResources();
    this.call.on('data', (raw: RawResponse) => this.inbox.deliver(decodeResponse(raw)));
    this.call.on('error', (err) => this.inbox.fail(err));
    this.call.on('end', () => this.inbox.fail(new Error('stream ended')));
  }

  /** Plaintext by default; pass TLS credentials (with a client certificate) for the TLS port. */
  static connect(address: string, node: TestNode, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): AdsTestClient {
    return new AdsTestClient(address, node, credentials);
  }

  send(request: AdsRequest): void {
    const withNode = request.withNode ?? !this.sentFirst;
    this.sentFirst = true;
    this.call.write({
      type_url: request.typeUrl,
      resource_names: request.names ?? [],
      version_info: request.version ?? '',
      response_nonce: request.nonce ?? '',
      ...(request.error ? { error_detail: request.error } : {}),
      ...(withNode ? { node: toNodeMessage(this.node) } : {}),
    });
  }

  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<AdsResponse> {
    return this.inbox.next(timeoutMs);
  }

  /** Resolves true if no response arrives within `ms` (and leaves any late one queued). */
  quiet(ms: number): Promise<boolean> {
    return this.inbox.quiet(ms);
  }

  /** Sends a request, waits for the response, ACKs it, and returns it. */
  async requestAck(typeUrl: string, names: string[] = []): Promise<AdsResponse> {
    this.send({ typeUrl, names });
    const response = await this.next();
    this.ack(response, names);
    return response;
  }

  ack(response: AdsResponse, names: string[]): void {
    this.send({ typeUrl: response.type_url, names, version: response.version_info, nonce: response.nonce });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

}

function decodeResponse(raw: RawResponse): AdsResponse {
  const resources = (raw.resources ?? []).map((any) => decodeAny(any));
  return {
    version_info: raw.version_info ?? '',
    type_url: raw.type_url ?? '',
    nonce: raw.nonce ?? '',
    resources,
    names: resources.map((r) => String(r['name'] ?? r['cluster_name'] ?? '')),
  };
}

/** protobufjs defines google.protobuf.Struct from bundled camelCase JSON, whatever keepCase says. */
export function toNodeMessage(node: TestNode): object {
  const fields: Record<string, { stringValue: string }> = {};
  for (const [k, v] of Object.entries(node.metadata ?? {})) fields[k] = { stringValue: v };
  return { id: node.id, locality: node.locality ?? {}, metadata: { fields } };
}
