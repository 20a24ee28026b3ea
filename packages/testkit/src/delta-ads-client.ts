import * as grpc from '@grpc/grpc-js';
import { ResponseInbox, adsServiceClient } from './response-inbox.ts';
import { toNodeMessage, type TestNode } from './ads-client.ts';
import { decodeAny, type AnyMessage } from './envoy-protos.ts';

export interface DeltaRequest {
  typeUrl: string;
  subscribe?: string[];
  unsubscribe?: string[];
  /** Only meaningful on the first request of a type on a stream (a reconnect). */
  initialVersions?: Record<string, string>;
  nonce?: string;
  error?: { code: number; message: string };
  /** Send the node on this request (default: only on the stream's first request). */
  withNode?: boolean;
}

export interface DeltaResource {
  name: string;
  version: string;
  /** The decoded resource, with an `@type` key. */
  resource: Record<string, unknown>;
}

export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: DeltaResource[];
  removed_resources: string[];
  /** Resource names in order. */
  names: string[];
}

type RawResource = { name?: string; version?: string; resource?: AnyMessage };
type RawDeltaResponse = {
  system_version_info?: string;
  type_url?: string;
  nonce?: string;
  resources?: RawResource[];
  removed_resources?: string[];
};

/**
 * A hand-driven delta ADS client for protocol tests, decoding with @grpc/proto-loader (not
 * Meridian's own encoder). It also keeps what a real client would hold: per type, the
 * version of each resource it has, for reconnects with `initial_resource_versions`.
 */
export class DeltaAdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<object, RawDeltaResponse>;
  private readonly inbox = new ResponseInbox<DeltaResponse>('delta ADS');
  private sentFirst = false;
  /** type URL → resource name → version, as a client applying every response would hold. */
  readonly held = new Map<string, Map<string, string>>();
  readonly node: TestNode;

  private constructor(address: string, node: TestNode, credentials: grpc.ChannelCredentials) {
    this.node = node;
    this.client = adsServiceClient(address, credentials);
    this.call = (this.client as unknown as { DeltaAggregatedResources(): grpc.ClientDuplexStream<object, RawDeltaResponse> }).DeltaAggregatedResources();
    this.call.on('data', (raw: RawDeltaResponse) => this.inbox.deliver(decodeDeltaResponse(raw)));
    this.call.on('error', (err) => this.inbox.fail(err));
    this.call.on('end', () => this.inbox.fail(new Error('stream ended')));
  }

  static connect(address: string, node: TestNode, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): DeltaAdsTestClient {
    return new DeltaAdsTestClient(address, node, credentials);
  }

  send(request: DeltaRequest): void {
    const withNode = request.withNode ?? !this.sentFirst;
    this.sentFirst = true;
    this.call.write({
      type_url: request.typeUrl,
      resource_names_subscribe: request.subscribe ?? [],
      resource_names_unsubscribe: request.unsubscribe ?? [],
      initial_resource_versions: request.initialVersions ?? {},
      response_nonce: request.nonce ?? '',
      ...(request.error ? { error_detail: request.error } : {}),
      ...(withNode ? { node: toNodeMessage(this.node) } : {}),
    });
  }

  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<DeltaResponse> {
    return this.inbox.next(timeoutMs);
  }

  /** Resolves true if no response arrives within `ms` (and leaves any late one queued). */
  quiet(ms: number): Promise<boolean> {
    return this.inbox.quiet(ms);
  }

  /** Applies a response to `held` and ACKs it (as a client that accepted it would). */
  ack(response: DeltaResponse): void {
    this.apply(response);
    this.send({ typeUrl: response.type_url, nonce: response.nonce });
  }

  /** Subscribes, waits for the response, ACKs it, and returns it. */
  async subscribeAck(typeUrl: string, names: string[]): Promise<DeltaResponse> {
    this.send({ typeUrl, subscribe: names });
    const response = await this.next();
    this.ack(response);
    return response;
  }

  apply(response: DeltaResponse): void {
    let held = this.held.get(response.type_url);
    if (!held) this.held.set(response.type_url, (held = new Map()));
    for (const r of response.resources) held.set(r.name, r.version);
    for (const n of response.removed_resources) held.delete(n);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

}

function decodeDeltaResponse(raw: RawDeltaResponse): DeltaResponse {
  const resources = (raw.resources ?? []).map((r) => ({
    name: r.name ?? '',
    version: r.version ?? '',
    resource: r.resource ? decodeAny(r.resource) : {},
  }));
  return {
    system_version_info: raw.system_version_info ?? '',
    type_url: raw.type_url ?? '',
    nonce: raw.nonce ?? '',
    resources,
    removed_resources: raw.removed_resources ?? [],
    names: resources.map((r) => r.name),
  };
}
