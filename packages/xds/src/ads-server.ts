import * as grpc from '@grpc/grpc-js';
import { errorMessage, type Logger, type ProxyNode, type PushRequest } from '@meridian/model';
import type { DeltaRequestView } from './classify-delta.ts';
import type { SotwRequestView } from './classify.ts';
import { AdsConnection } from './sotw-connection.ts';
import { connectionSource } from './connection-source.ts';
import { DeltaAdsConnection } from './delta-connection.ts';
import { proxyFromNode, type NodeMessage, type ProxyDefaults } from './proxy.ts';
import { MalformedRequest, requestCodec } from './request-codec.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import type { SecretSource } from './sds.ts';
import { isTypeUrl, type TypeUrl } from './type-url.ts';
import { StreamVariant, type StreamHooks, type XdsConnection } from './stream-state.ts';

interface RequestEnvelope {
  readonly node?: NodeMessage | null;
  readonly type_url: string;
}
type DiscoveryRequestMessage = SotwRequestView & RequestEnvelope;
type DeltaDiscoveryRequestMessage = DeltaRequestView & RequestEnvelope;
type AdsCall = grpc.ServerDuplexStream<RequestEnvelope | MalformedRequest, Buffer>;

export interface AdsServerOptions {
  readonly source: ResourceSource;
  /** Each connection's own secrets (SDS); absent: none served. */
  readonly secrets?: SecretSource;
  readonly logger: Logger;
  readonly proxyDefaults: ProxyDefaults;
  readonly hooks?: Partial<AdsServerHooks>;
  /** Connections pushed to before yielding to the event loop, so ACKs keep flowing. */
  readonly pushBatchSize?: number;
  /** Per stream: response bytes the client has not taken, past which nothing more is built. */
  readonly maxBufferedBytes?: number;
  /** Per stream and type: NACKs past the first in this interval are counted, not logged one by one. */
  readonly nackLogIntervalMs?: number;
}

/**
 * Node ids are shown in every debug view and matched by CSDS; Istio's run to about a hundred
 * characters. A longer one is refused rather than stored for the stream's lifetime.
 */
export const MAX_NODE_ID_LENGTH = 4096;

export interface AdsServerHooks extends StreamHooks {
  onConnect(conn: XdsConnection): void;
  onDisconnect(conn: XdsConnection): void;
}

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** A workload identity proven by the transport (a verified client certificate). */
export interface PeerIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A call's transport, as much as identifying it needs (unary and streaming calls alike). */
export type PeerCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

export type PeerIdentifier = (call: PeerCall) => PeerIdentity | { readonly error: string };

/**
 * The ADS gRPC service, both variants: state of the world and delta. Requests are decoded
 * with Envoy's protos; responses are pre-assembled bytes, so the response serializer is the
 * identity. Both variants share the resource source, the identity rules and the push path.
 */
export class AdsServer {
  private readonly source: ResourceSource;
  private readonly secrets: SecretSource | undefined;
  /** What each connection is served: the mesh, plus its own secrets. */
  private readonly sources = new WeakMap<XdsConnection, ResourceSource>();
  private readonly logger: Logger;
  private readonly proxyDefaults: ProxyDefaults;
  private readonly hooks: Partial<AdsServerHooks>;
  private readonly pushBatchSize: number;
  private readonly maxBufferedBytes: number | undefined;
  private readonly nackLogIntervalMs: number | undefined;
  private readonly connections = new Map<string, XdsConnection>();
  private readonly calls = new Set<AdsCall>();
  private connectionSeq = 0;
  private pushing: Promise<void> = Promise.resolve();

  constructor(options: AdsServerOptions) {
    this.source = options.source;
    this.secrets = options.secrets;
    this.logger = options.logger.child({ component: 'ads' });
    this.proxyDefaults = options.proxyDefaults;
    this.hooks = options.hooks ?? {};
    this.pushBatchSize = options.pushBatchSize ?? 100;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.nackLogIntervalMs = options.nackLogIntervalMs;
  }

  /**
   * Registers the ADS service on a grpc-js server. With `identify`, every stream must prove
   * a workload identity (on the TLS port: its client SVID); that identity overrides what the
   * node metadata claims.
   */
  addTo(server: grpc.Server, options: { identify?: PeerIdentifier } = {}): void {
    const method = (name: string, requestTypeName: string): grpc.MethodDefinition<object, Buffer> => {
      const request = requestCodec(requestTypeName, { longs: String, enums: String, defaults: true, oneofs: true });
      return {
        path: `/${ADS_SERVICE}/${name}`,
        requestStream: true,
        responseStream: true,
        requestSerialize: request.serialize,
        requestDeserialize: request.deserialize,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (bytes: Buffer) => bytes,
      };
    };
    const definition: grpc.ServiceDefinition = {
      StreamAggregatedResources: method('StreamAggregatedResources', 'envoy.service.discovery.v3.DiscoveryRequest'),
      DeltaAggregatedResources: method('DeltaAggregatedResources', 'envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    };
    server.addService(definition, {
      StreamAggregatedResources: (call: AdsCall) => this.stream(call, options.identify, StreamVariant.Sotw),
      DeltaAggregatedResources: (call: AdsCall) => this.stream(call, options.identify, StreamVariant.Delta),
    });
  }

  /** Every connected stream, of both variants (`streamVariant` tells which). */
  list(): XdsConnection[] {
    return [...this.connections.values()];
  }

  /** The resources a connection would get now (CSDS compares them with what was sent). */
  generate(conn: XdsConnection, typeUrl: TypeUrl, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    return (this.sources.get(conn) ?? this.source).generate(typeUrl, conn.proxy, names);
  }

  /**
   * One connection's own resources of a type changed (by id), or every connection's (roots
   * after a CA change): each sends what differs, without a mesh push. An unknown id (the
   * connection ended meanwhile) is ignored.
   */
  refresh(typeUrl: TypeUrl, connectionId?: string): void {
    if (connectionId !== undefined) {
      this.connections.get(connectionId)?.refresh(typeUrl);
      return;
    }
    for (const conn of this.connections.values()) conn.refresh(typeUrl);
  }

  /**
   * Sends a change to every connection. Work per connection is synchronous (cached bytes);
   * yielding between batches lets requests and ACKs of other proxies through. Pushes are
   * serialized so a newer one never overtakes an older one.
   */
  push(request: PushRequest): Promise<void> {
    this.pushing = this.pushing.then(async () => {
      let n = 0;
      for (const conn of this.connections.values()) {
        conn.push(request);
        if (++n % this.pushBatchSize === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    });
    return this.pushing;
  }

  /**
   * Ends every stream with UNAVAILABLE so proxies reconnect (through the Service) to another
   * replica, each at a random moment within `drainMs`, so the other replicas take the
   * reconnects spread over time. Pushes keep reaching the streams not yet ended, and writes
   * already queued on a stream go out before its status. Streams still open when the window
   * closes (opened meanwhile) are ended then. Resolves with the number of streams ended.
   */
  async drain(options: { drainMs: number; details?: string; random?: () => number }): Promise<number> {
    const calls = [...this.calls];
    const random = options.random ?? Math.random;
    const windowMs = Math.min(options.drainMs, calls.length * SPREAD_PER_STREAM_MS);
    const details = options.details ?? 'server shutting down; reconnect';
    await Promise.all(
      calls.map((call) => new Promise<void>((resolve) => setTimeout(() => resolve(endStream(call, details)), Math.floor(random() * windowMs)))),
    );
    const late = [...this.calls];
    for (const call of late) endStream(call, details);
    return calls.length + late.length;
  }

  private stream(call: AdsCall, identify: PeerIdentifier | undefined, variant: StreamVariant): void {
    let identity: PeerIdentity | undefined;
    if (identify) {
      const result = identify(call);
      if ('error' in result) {
        this.logger.warn({ peer: call.getPeer(), reason: result.error }, 'ADS stream refused: no valid workload identity');
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'a valid workload certificate is required' });
        return;
      }
      identity = result;
    }
    this.calls.add(call);
    let conn: XdsConnection | undefined;
    let handle: ((typeUrl: TypeUrl, request: RequestEnvelope) => void) | undefined;
    const peer = call.getPeer();
    const finish = (why: string) => {
      this.calls.delete(call);
      if (!conn) return;
      const c = conn;
      conn = undefined;
      handle = undefined;
      c.close();
      this.connections.delete(c.id);
      this.secrets?.release(c.id);
      this.logger.info({ conn: c.id, node: c.proxy.id, why }, 'proxy disconnected');
      this.hooks.onDisconnect?.(c);
    };
    call.on('data', (request: RequestEnvelope | MalformedRequest) => {
      if (request instanceof MalformedRequest) {
        this.logger.debug({ conn: conn?.id, peer, details: request.details }, 'malformed request; closing stream');
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: request.details });
        return;
      }
      try {
        if (!conn || !handle) {
          if (!request.node?.id) {
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'first request must carry node.id' });
            return;
          }
          if (request.node.id.length > MAX_NODE_ID_LENGTH) {
            const details = `node.id is ${request.node.id.length} characters; at most ${MAX_NODE_ID_LENGTH} are accepted`;
            this.logger.debug({ peer, details }, 'ADS stream refused');
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
            return;
          }
          const claimed = proxyFromNode(request.node, this.proxyDefaults);
          const proxy = identity
              ? {
                  ...claimed,
                  namespace: identity.namespace,
                  serviceAccount: identity.serviceAccount,
                  verifiedIdentity: `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`,
                }
              : claimed;
          ({ conn, handle } = this.connect(call, proxy, peer, variant));
        }
        if (!isTypeUrl(request.type_url)) {
          this.logger.debug({ conn: conn.id, typeUrl: request.type_url }, 'ignoring request for a type not served');
          return;
        }
        handle(request.type_url, request);
      } catch (err) {
        this.logger.error({ err, conn: conn?.id }, 'request handling failed; closing stream');
        call.emit('error', { code: grpc.status.INTERNAL, details: errorMessage(err) });
      }
    });
    call.on('end', () => {
      finish('client closed stream');
      call.end();
    });
    call.on('error', (err) => finish(`stream error: ${statusText(err)}`));
    call.on('cancelled', () => finish('cancelled'));
    call.on('close', () => finish('closed'));
  }

  private connect(
    call: AdsCall,
    proxy: ProxyNode,
    peer: string,
    variant: StreamVariant,
  ): { conn: XdsConnection; handle: (typeUrl: TypeUrl, request: RequestEnvelope) => void } {
    const id = `${proxy.id.split('~')[2] ?? proxy.id}-${++this.connectionSeq}`;
    const source = connectionSource(this.source, this.secrets, { connection: id, identity: proxy.verifiedIdentity });
    const options = { id, proxy, stream: call, source, logger: this.logger, hooks: this.hooks, peer, maxBufferedBytes: this.maxBufferedBytes, nackLogIntervalMs: this.nackLogIntervalMs };
    let conn: XdsConnection;
    let handle: (typeUrl: TypeUrl, request: RequestEnvelope) => void;
    if (variant === StreamVariant.Delta) {
      const delta = new DeltaAdsConnection(options);
      handle = (typeUrl, request) => delta.handleRequest(typeUrl, request as DeltaDiscoveryRequestMessage);
      conn = delta;
    } else {
      const sotw = new AdsConnection(options);
      handle = (typeUrl, request) => sotw.handleRequest(typeUrl, request as DiscoveryRequestMessage);
      conn = sotw;
    }
    this.connections.set(id, conn);
    this.sources.set(conn, source);
    this.logger.info(
      { conn: id, node: proxy.id, type: proxy.type, cluster: proxy.cluster, locality: proxy.locality, peer, variant },
      'proxy connected',
    );
    this.hooks.onConnect?.(conn);
    return { conn, handle };
  }
}

/** Which ADS variant a connection speaks. */
export function streamVariant(conn: XdsConnection): StreamVariant {
  return conn.variant;
}

/**
 * Below this many proxies per second of drain, ending them all at once is no herd: a handful
 * of proxies reconnect at once and the other replica never notices. Spreading a few streams
 * over the whole drain period would only slow every shutdown (and every test).
 */
const SPREAD_PER_STREAM_MS = 20;

/**
 * What ended a stream: grpc-js reports a status we emitted ourselves as the plain
 * `{ code, details }` object, and its own failures as errors.
 */
function statusText(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && 'details' in err && typeof err.code === 'number') {
    return `${grpc.status[err.code] ?? err.code}: ${String(err.details)}`;
  }
  return errorMessage(err);
}

function endStream(call: AdsCall, details: string): void {
  try {
    call.emit('error', { code: grpc.status.UNAVAILABLE, details });
  } catch {
    // the proxy left meanwhile
  }
}
