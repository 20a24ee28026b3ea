/**
 * Extension configs that many listeners carry alike (the workload-metrics loggers, access
 * loggers, the identity-exchange filters) are encoded once and their bytes reused: a
 * sidecar's listeners then cost a copy of those bytes, not a walk of hundreds of nested
 * fields, on every proxy and push. protobufjs takes an Any given as `{ type_url, value }`
 * as it is.
 */
import { loadSidecarProtos } from './envoy-protos.ts';
import { encodeMessage } from './protos.ts';

export interface EncodedAny {
  readonly type_url: string;
  readonly value: Uint8Array;
}

/** `{ '@type': url, ...fields }` (a sidecar's extension) as an Any with its value already encoded. */
export function preEncodedAny(config: { readonly '@type': string; readonly [field: string]: unknown }): EncodedAny {
  loadSidecarProtos();
  const { '@type': typeUrl, ...fields } = config;
  return { type_url: typeUrl, value: encodeMessage(typeUrl, fields) };
}

/**
 * A small memo for configs built from a few inputs (a direction, a protocol, the providers
 * in force): bounded, since the inputs change with policy and are never taken back.
 */
export class SharedConfigs<T> {
  private readonly entries = new Map<string, T>();
  private readonly limit: number;

  constructor(limit = 256) {
    this.limit = limit;
  }

  get(key: string, build: () => T): T {
    let value = this.entries.get(key);
    if (value === undefined) {
      // Forgetting all is enough: the limit is set above what a push needs, so a full memo
      // means the inputs churned, and rebuilding is cheap.
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(key, (value = build()));
    }
    return value;
  }
}
