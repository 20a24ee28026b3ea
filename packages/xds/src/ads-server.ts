import * as grpc from '@grpc/grpc-js';
import { errorMessage, type Logger, type ProxyNode, type PushRequest } from '@meridian/model';
import type { SotwRequestView } from './classify.ts';
import { AdsConnection, type ConnectionHooks } from './connection.ts';
import { protoType } from './protos.ts';
import { proxyFromNode, type NodeMessage, type ProxyDefaults } from './proxy.ts';
import type { ResourceSource } from './resource-source.ts';
import { isTypeUrl } from './type-url.ts';

interface DiscoveryRequestMessage extends SotwRequestView {
  readonly node?: NodeMessage | null;
  readonly type_url: string;
}

export interface AdsServerOptions {
  readonly source: ResourceSource;
  readonly logger: Logger;
  readonly proxyDefaults: ProxyDefaults;
  readonly hooks?: Partial<AdsServerHooks>;
  /** Connections pushed to before yielding to the event loop, so ACKs keep flowing. */
  readonly pushBatchSize?: number;
}

export interface AdsServerHooks extends ConnectionHooks {
  onConnect(conn: AdsConnection): void;
  onDisconnect(conn: AdsConnection): void;
}

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** A workload identity proven by the transport (a verified client certificate). */
export interface PeerIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type PeerIdentifier = (call: grpc.ServerDuplexStream<unknown, unknown>) => PeerIdentity | { readonly error: string };

/**
 * The ADS gRPC service (state of the world). Requests are decoded with Envoy's protos;
 * responses are pre-assembled bytes, so the response serializer is the identity.
 */
export class AdsServer {
  private readonly source: ResourceSource;
  private readonly logger: Logger;
  private readonly proxyDefaults: ProxyDefaults;
  private readonly hooks: Partial<AdsServerHooks>;
  private readonly pushBatchSize: number;
  private readonly connections = new Map<string, AdsConnection>();
  private readonly calls = new Set<grpc.ServerDuplexStream<DiscoveryRequestMessage, Buffer>>();
  private connectionSeq = 0;
  private pushing: Promise<void> = Promise.resolve();

  constructor(options: AdsServerOptions) {
    this.source = options.source;
    this.logger = options.logger.child({ component: 'ads' });
    this.proxyDefaults = options.proxyDefaults;
    this.hooks = options.hooks ?? {};
    this.pushBatchSize = options.pushBatchSize ?? 100;
  }

  /**
   * Registers the ADS service on a grpc-js server. With `identify`, every stream must prove
   * a workload identity (on the TLS port: its client SVID); that identity overrides what the
   * node metadata claims.
   */
  addTo(server: grpc.Server, options: { identify?: PeerIdentifier } = {}): void {
    const requestType = protoType('envoy.service.discovery.v3.DiscoveryRequest');
    const definition: grpc.ServiceDefinition = {
      StreamAggregatedResources: {
        path: `/${ADS_SERVICE}/StreamAggregatedResources`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: object) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
        requestDeserialize: (bytes: Buffer) =>
          requestType.toObject(requestType.decode(bytes), { longs: String, enums: String, defaults: true, oneofs: true }),
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (bytes: Buffer) => bytes,
      },
    };
    server.addService(definition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMessage, Buffer>) => this.stream(call, options.identify),
    });
  }

  list(): AdsConnection[] {
    return [...this.connections.values()];
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

  /** Ends every stream with the given status (shutdown, or a drain to another replica). */
  closeAll(code: grpc.status = grpc.status.UNAVAILABLE, details = 'server shutting down'): void {
    for (const call of this.calls) {
      try {
        call.emit('error', { code, details });
      } catch {
        // already closed
      }
    }
  }

  private stream(call: grpc.ServerDuplexStream<DiscoveryRequestMessage, Buffer>, identify: PeerIdentifier | undefined): void {
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
    let conn: AdsConnection | undefined;
    const peer = call.getPeer();
    const finish = (why: string) => {
      this.calls.delete(call);
      if (!conn) return;
      const c = conn;
      conn = undefined;
      c.close();
      this.connections.delete(c.id);
      this.logger.info({ conn: c.id, node: c.proxy.id, why }, 'proxy disconnected');
      this.hooks.onDisconnect?.(c);
    };
    call.on('data', (request: DiscoveryRequestMessage) => {
      try {
        if (!conn) {
          if (!request.node?.id) {
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'first request must carry node.id' });
            return;
          }
          const claimed = proxyFromNode(request.node, this.proxyDefaults);
          conn = this.connect(call, identity ? { ...claimed, namespace: identity.namespace, serviceAccount: identity.serviceAccount } : claimed, peer);
        }
        if (!isTypeUrl(request.type_url)) {
          this.logger.debug({ conn: conn.id, typeUrl: request.type_url }, 'ignoring request for a type not served');
          return;
        }
        conn.handleRequest(request.type_url, request);
      } catch (err) {
        this.logger.error({ err, conn: conn?.id }, 'request handling failed; closing stream');
        call.emit('error', { code: grpc.status.INTERNAL, details: errorMessage(err) });
      }
    });
    call.on('end', () => {
      finish('client closed stream');
      call.end();
    });
    call.on('error', (err) => finish(`stream error: ${errorMessage(err)}`));
    call.on('cancelled', () => finish('cancelled'));
    call.on('close', () => finish('closed'));
  }

  private connect(
    call: grpc.ServerDuplexStream<DiscoveryRequestMessage, Buffer>,
    proxy: ProxyNode,
    peer: string,
  ): AdsConnection {
    const id = `${proxy.id.split('~')[2] ?? proxy.id}-${++this.connectionSeq}`;
    const conn = new AdsConnection({
      id,
      proxy,
      stream: call,
      source: this.source,
      logger: this.logger,
      hooks: this.hooks,
      peer,
    });
    this.connections.set(id, conn);
    this.logger.info(
      { conn: id, node: proxy.id, type: proxy.type, cluster: proxy.cluster, locality: proxy.locality, peer },
      'proxy connected',
    );
    this.hooks.onConnect?.(conn);
    return conn;
  }
}
