import * as grpc from '@grpc/grpc-js';

/**
 * A tiny gRPC echo service with JSON messages, so tests and the demo need no proto file:
 * each backend answers with who it is, and clients see which cluster served them.
 */
export interface EchoReply {
  readonly cluster: string;
  readonly backend: string;
  readonly message: string;
}

const serialize = (v: unknown) => Buffer.from(JSON.stringify(v));
const deserialize = (b: Buffer) => JSON.parse(b.toString()) as unknown;

/** A unary method whose messages are JSON: test services need no .proto of their own. */
export function jsonUnaryMethod(path: string): grpc.MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

export const echoService: grpc.ServiceDefinition = { Echo: jsonUnaryMethod('/meridian.testkit.Echo/Echo') };

export interface EchoBackend {
  readonly address: string;
  readonly calls: number;
  close(): Promise<void>;
}

/** `failEvery`: every n-th call is answered UNAVAILABLE (a flaky backend, for retry tests). */
export async function startEchoBackend(options: { host: string; port: number; cluster: string; name?: string; failEvery?: number }): Promise<EchoBackend> {
  const server = new grpc.Server();
  const backend = options.name ?? `${options.cluster}@${options.host}`;
  let calls = 0;
  server.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<{ message?: string }, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      calls++;
      if (options.failEvery && calls % options.failEvery === 0) {
        callback({ code: grpc.status.UNAVAILABLE, details: 'failing on purpose' });
        return;
      }
      callback(null, { cluster: options.cluster, backend, message: call.request.message ?? '' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `${options.host}:${port}`,
    get calls() {
      return calls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}

const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');

export interface EchoClient {
  /** `metadata`: request headers (what route header matches see). */
  echo(message: string, deadlineMs?: number, metadata?: Readonly<Record<string, string>>): Promise<EchoReply>;
  close(): void;
}

/** An echo client for any target, e.g. `xds:///echo.demo.svc.cluster.local:7070`. */
export function echoClient(target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): EchoClient {
  const client = new EchoClient(target, credentials, options) as unknown as grpc.Client & {
    Echo(req: object, metadata: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoReply) => void): void;
  };
  return {
    echo: (message, deadlineMs = 5000, headers = {}) =>
      new Promise((resolve, reject) => {
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
        client.Echo({ message }, metadata, { deadline: Date.now() + deadlineMs }, (err, res) =>
          err || !res ? reject(err ?? new Error('empty reply')) : resolve(res),
        );
      }),
    close: () => client.close(),
  };
}
