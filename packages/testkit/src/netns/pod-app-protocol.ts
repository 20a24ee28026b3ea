/** What a test pod's application serves and the commands its parent sends it (JSON lines). */
import type * as grpc from '@grpc/grpc-js';
import { jsonUnaryMethod } from '../echo.ts';

export interface PodAppConfig {
  readonly pod: string;
  /** Ports to serve each protocol on (0.0.0.0); absent: not served. */
  readonly ports: { readonly http1?: number; readonly h2c?: number; readonly grpc?: number; readonly tcp?: number };
}

/** What a server saw of a request: the headers include what the sidecars added (x-forwarded-client-cert). */
export interface Received {
  readonly pod: string;
  readonly protocol: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

interface Dial {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs?: number;
}

interface HttpDial extends Dial {
  /** Host header / :authority: the service's name, as a client that resolved it by DNS sends. */
  readonly authority: string;
  readonly path?: string;
  /** Request headers besides the Host header (HTTP/1.1 only). */
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTP/1.1 only; default GET. */
  readonly method?: string;
}

export type PodAppCommand =
  | ({ readonly op: 'http1' } & HttpDial)
  | ({ readonly op: 'h2c' } & HttpDial)
  | ({ readonly op: 'grpc' } & Omit<HttpDial, 'path'>)
  | ({ readonly op: 'tcp'; readonly data: string } & Dial)
  /** Every server answers with this HTTP status from now on (gRPC: UNAVAILABLE when ≥ 500). */
  | {
      readonly op: 'status';
      readonly status: number;
      readonly timeoutMs?: number;
      /** HTTP/1.1 only: every answer waits this long. */
      readonly delayMs?: number;
      /** HTTP/1.1 only: every `failEvery`-th request is answered 503 (a flaky backend). */
      readonly failEvery?: number;
    }
  /**
   * Polls the pod's Envoy admin (127.0.0.1:15000) every `everyMs` until the stat `name` has
   * `value`; answers the wall-clock time (ms, fractional) it first saw it.
   */
  | { readonly op: 'statReaches'; readonly name: string; readonly value: number; readonly everyMs?: number; readonly timeoutMs?: number };

export const podAppService: grpc.ServiceDefinition = { Who: jsonUnaryMethod('/meridian.testkit.PodApp/Who') };
