import * as grpc from '@grpc/grpc-js';
import { decodeAny, envoyPackageDefinition, type AnyMessage } from './envoy-protos.ts';

export interface CsdsQuery {
  /** ORed; each matches the node id exactly or by prefix. None = every proxy. */
  nodeIds?: Array<{ exact: string } | { prefix: string }>;
  excludeResourceContents?: boolean;
}

export interface CsdsResource {
  type_url: string;
  name: string;
  version_info: string;
  config_status: string;
  client_status: string;
  last_updated?: { seconds: string; nanos?: number };
  error_state?: { details?: string; version_info?: string; last_update_attempt?: { seconds: string } };
  /** The decoded resource (with `@type`), when the server included it. */
  xds_config?: Record<string, unknown>;
}

export interface CsdsClientConfig {
  node: { id: string; locality?: { region?: string; zone?: string; sub_zone?: string } };
  generic_xds_configs: CsdsResource[];
}

type RawResource = Omit<CsdsResource, 'xds_config'> & { xds_config?: AnyMessage };
type RawResponse = { config?: Array<{ node?: CsdsClientConfig['node']; generic_xds_configs?: RawResource[] }> };

interface CsdsStub extends grpc.Client {
  FetchClientStatus(request: object, callback: (err: grpc.ServiceError | null, response?: RawResponse) => void): void;
  StreamClientStatus(): grpc.ClientDuplexStream<object, RawResponse>;
}

/**
 * A CSDS client for tests, decoding with @grpc/proto-loader: `fetch` (unary) and `stream`
 * (one response per request on a single stream).
 */
export class CsdsTestClient {
  private readonly client: CsdsStub;

  private constructor(address: string, credentials: grpc.ChannelCredentials) {
    const pkg = grpc.loadPackageDefinition(envoyPackageDefinition()) as unknown as {
      envoy: { service: { status: { v3: { ClientStatusDiscoveryService: grpc.ServiceClientConstructor } } } };
    };
    const Csds = pkg.envoy.service.status.v3.ClientStatusDiscoveryService;
    this.client = new Csds(address, credentials) as unknown as CsdsStub;
  }

  static connect(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): CsdsTestClient {
    return new CsdsTestClient(address, credentials);
  }

  fetch(query: CsdsQuery = {}): Promise<CsdsClientConfig[]> {
    return new Promise((resolve, reject) => {
      this.client.FetchClientStatus(toRequest(query), (err, response) => {
        if (err) reject(err);
        else resolve(decode(response ?? {}));
      });
    });
  }

  /** Sends each query on one StreamClientStatus stream and collects the answers in order. */
  stream(queries: CsdsQuery[], timeoutMs = 5000): Promise<CsdsClientConfig[][]> {
    return new Promise((resolve, reject) => {
      const call = this.client.StreamClientStatus();
      const answers: CsdsClientConfig[][] = [];
      const timer = setTimeout(() => {
        call.cancel();
        reject(new Error(`CSDS stream: ${answers.length}/${queries.length} answers within ${timeoutMs} ms`));
      }, timeoutMs);
      call.on('data', (raw: RawResponse) => {
        answers.push(decode(raw));
        if (answers.length === queries.length) {
          clearTimeout(timer);
          call.end();
          resolve(answers);
        }
      });
      call.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      call.on('end', () => clearTimeout(timer));
      for (const q of queries) call.write(toRequest(q));
    });
  }

  close(): void {
    this.client.close();
  }
}

function toRequest(query: CsdsQuery): object {
  return {
    node_matchers: (query.nodeIds ?? []).map((node_id) => ({ node_id })),
    exclude_resource_contents: query.excludeResourceContents ?? false,
  };
}

function decode(raw: RawResponse): CsdsClientConfig[] {
  return (raw.config ?? []).map((c) => ({
    node: c.node ?? { id: '' },
    generic_xds_configs: (c.generic_xds_configs ?? []).map(({ xds_config, ...rest }) => ({
      ...rest,
      ...(xds_config ? { xds_config: decodeAny(xds_config) } : {}),
    })),
  }));
}
