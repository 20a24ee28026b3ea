// A record of every request the server answered, so tests can assert which API
// calls a component makes (and how often) instead of guessing from side effects.

export interface RequestRecord {
  /** Milliseconds since the epoch when the request arrived. */
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Kubernetes verb (get, list, watch, create…) for resource requests. */
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Username, once authenticated. */
  user?: string;
  /** HTTP status sent; 0 until the response head is written. For a watch this is the status of its head (200), not of its end. */
  status: number;
}

export type RequestFilter = Partial<Pick<RequestRecord, 'method' | 'verb' | 'resource' | 'namespace' | 'name' | 'user' | 'status'>>;

export class RequestLog {
  #records: RequestRecord[] = [];
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  add(record: RequestRecord): void {
    this.#records.push(record);
    if (this.#records.length > this.#limit) this.#records.splice(0, this.#records.length - this.#limit);
  }

  entries(filter: RequestFilter = {}): RequestRecord[] {
    const keys = Object.entries(filter) as [keyof RequestFilter, unknown][];
    return this.#records.filter((r) => keys.every(([k, v]) => v === undefined || r[k] === v)).map((r) => ({ ...r, query: { ...r.query } }));
  }

  clear(): void {
    this.#records = [];
  }
}
