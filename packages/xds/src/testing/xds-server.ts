import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger, type Service } from '@meridian/model';
import { AdsServer, type AdsServerHooks } from '../ads-server.ts';
import { addCsdsService } from '../csds.ts';
import { MeshResources } from '../mesh-resources.ts';
import { protoType } from '../protos.ts';
import { StaticDiscovery } from './static-discovery.ts';

/**
 * A real grpc-js server with ADS (both variants) and CSDS over a static mesh, and a raw
 * client channel to it, for tests. Log lines are kept as parsed JSON so tests can count
 * and read them.
 */
export interface TestXdsServer {
  readonly ads: AdsServer;
  readonly discovery: StaticDiscovery;
  readonly client: grpc.Client;
  /** `127.0.0.1:<port>`, for clients that need a connection of their own. */
  readonly address: string;
  readonly logs: Array<Record<string, unknown>>;
  close(): void;
}

export const ADS_SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
export const ADS_DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
export const CSDS_FETCH = '/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus';
export const CSDS_STREAM = '/envoy.service.status.v3.ClientStatusDiscoveryService/StreamClientStatus';

export async function startTestXdsServer(
  options: { services?: Service[]; hooks?: Partial<AdsServerHooks>; nackLogIntervalMs?: number } = {},
): Promise<TestXdsServer> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger: Logger = createLogger({ level: 'info', destination });
  const discovery = new StaticDiscovery(options.services ?? [], {});
  const ads = new AdsServer({
    source: new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [] }),
    logger,
    proxyDefaults: { cluster: 'east', networkOf: (c) => c },
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.nackLogIntervalMs === undefined ? {} : { nackLogIntervalMs: options.nackLogIntervalMs }),
  });
  const server = new grpc.Server();
  ads.addTo(server);
  addCsdsService(server, ads, { logger });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    ads,
    discovery,
    client,
    address,
    logs,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

/** Encodes a message of an Envoy proto type, as a client would put it on the wire. */
export function encoder(typeName: string): (value: object) => Buffer {
  const type = protoType(typeName);
  return (value) => Buffer.from(type.encode(type.fromObject(value)).finish());
}

export function decoder(typeName: string): (bytes: Buffer) => Record<string, unknown> {
  const type = protoType(typeName);
  return (bytes) => type.toObject(type.decode(bytes), { longs: String, enums: String, defaults: true }) as Record<string, unknown>;
}

const raw = (b: Buffer) => b;

/** Sends bytes as one unary call and resolves with the status code and details. */
export function unaryStatus(client: grpc.Client, path: string, bytes: Buffer): Promise<{ code: number; details: string; response?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, raw, raw, bytes, (err, response) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', ...(response ? { response } : {}) }),
    );
  });
}

/** A bidi stream sending raw bytes; `ended` resolves with its final status. */
export function rawStream(client: grpc.Client, path: string): {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  responses: Buffer[];
  ended: Promise<{ code: number; details: string }>;
} {
  const call = client.makeBidiStreamRequest(path, raw, raw);
  const responses: Buffer[] = [];
  call.on('data', (b: Buffer) => responses.push(b));
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }));
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ code: s.code, details: s.details });
    });
  });
  return { call, responses, ended };
}
