/**
 * A test OTLP/gRPC collector: the `TraceService/Export` a real exporter (Envoy's OpenTelemetry
 * tracer) sends spans to, keeping every span it receives with its resource's `service.name`,
 * and the `LogsService/Export` Envoy's OpenTelemetry access logger sends log records to, for
 * tests to read.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface CollectedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  readonly kind: number;
  readonly serviceName: string;
  readonly attributes: Readonly<Record<string, string>>;
}

interface KeyValue {
  key: string;
  value?: { string_value?: string; bool_value?: boolean; int_value?: string; double_value?: number };
}

/** A log record: its body and attributes, as strings. */
export interface CollectedLog {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

interface LogsExportRequest {
  resource_logs: Array<{ scope_logs: Array<{ log_records: Array<{ body?: { string_value?: string }; attributes: KeyValue[] }> }> }>;
}

interface ExportRequest {
  resource_spans: Array<{ resource?: { attributes: KeyValue[] }; scope_spans: Array<{ spans: Array<{ trace_id: Buffer; span_id: Buffer; parent_span_id: Buffer; name: string; kind: number; attributes: KeyValue[] }> }> }>;
}

const attributes = (list: readonly KeyValue[]): Record<string, string> =>
  Object.fromEntries(list.map((kv) => [kv.key, String(kv.value?.string_value ?? kv.value?.int_value ?? kv.value?.bool_value ?? kv.value?.double_value ?? '')]));

const LOAD_OPTIONS = { keepCase: true, longs: String, defaults: true, oneofs: true, includeDirs: [fileURLToPath(new URL('../proto/', import.meta.url)), fileURLToPath(new URL('../../../proto/', import.meta.url))] };

export class OtlpCollector {
  readonly spans: CollectedSpan[] = [];
  readonly logs: CollectedLog[] = [];
  private readonly server = new grpc.Server();
  address = '';

  /** Listens on `host` (port chosen by the system). */
  static async start(host: string): Promise<OtlpCollector> {
    const collector = new OtlpCollector();
    const definition = protoLoader.loadSync(fileURLToPath(new URL('../proto/otlp-trace.proto', import.meta.url)), LOAD_OPTIONS);
    const service = (grpc.loadPackageDefinition(definition) as unknown as { opentelemetry: { proto: { collector: { trace: { v1: { TraceService: { service: grpc.ServiceDefinition } } } } } } }).opentelemetry.proto.collector.trace.v1.TraceService.service;
    collector.server.addService(service, {
      Export: (call: grpc.ServerUnaryCall<ExportRequest, object>, callback: grpc.sendUnaryData<object>) => {
        for (const rs of call.request.resource_spans) {
          const serviceName = attributes(rs.resource?.attributes ?? [])['service.name'] ?? '';
          for (const ss of rs.scope_spans) {
            for (const s of ss.spans) {
              collector.spans.push({ traceId: s.trace_id.toString('hex'), spanId: s.span_id.toString('hex'), parentSpanId: s.parent_span_id.toString('hex'), name: s.name, kind: s.kind, serviceName, attributes: attributes(s.attributes) });
            }
          }
        }
        callback(null, {});
      },
    });
    const logsDefinition = protoLoader.loadSync(fileURLToPath(new URL('../proto/otlp-logs.proto', import.meta.url)), LOAD_OPTIONS);
    const logsService = (grpc.loadPackageDefinition(logsDefinition) as unknown as { opentelemetry: { proto: { collector: { logs: { v1: { LogsService: { service: grpc.ServiceDefinition } } } } } } }).opentelemetry.proto.collector.logs.v1.LogsService.service;
    collector.server.addService(logsService, {
      Export: (call: grpc.ServerUnaryCall<LogsExportRequest, object>, callback: grpc.sendUnaryData<object>) => {
        for (const rl of call.request.resource_logs) {
          for (const sl of rl.scope_logs) for (const r of sl.log_records) collector.logs.push({ body: r.body?.string_value ?? '', attributes: attributes(r.attributes) });
        }
        callback(null, {});
      },
    });
    const port = await new Promise<number>((resolve, reject) => collector.server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    collector.address = `${host}:${port}`;
    return collector;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
