// Injected failures and latency. Kept apart from routing so a test can reason
// about "what the API does wrong" in one place; the router only asks
// `takeFailure()` and `delayMs` at the edge of every request.
import type { RequestInfo } from './request-info.ts';

/** Narrows a fault to some requests; every field given must match. */
export interface FaultMatcher {
  verb?: string | readonly string[];
  /** Plural resource ('services') or group-qualified ('endpointslices.discovery.k8s.io'). */
  resource?: string;
  namespace?: string;
  /** Only watch requests (true) or only non-watch requests (false). */
  watch?: boolean;
  path?: string | RegExp;
}

export interface FailOptions {
  /** HTTP status to answer with; default 500. */
  status?: number;
  match?: FaultMatcher;
}

interface ArmedFailure {
  remaining: number;
  status: number;
  match: FaultMatcher | undefined;
}

export function matchesRequest(m: FaultMatcher | undefined, path: string, info: RequestInfo): boolean {
  if (m === undefined) return true;
  if (m.path !== undefined && !(typeof m.path === 'string' ? path === m.path : m.path.test(path))) return false;
  if (info.kind !== 'resource') return m.verb === undefined && m.resource === undefined && m.namespace === undefined && m.watch === undefined;
  if (m.verb !== undefined && !(typeof m.verb === 'string' ? [m.verb] : m.verb).includes(info.verb)) return false;
  if (m.resource !== undefined && m.resource !== info.resource && m.resource !== `${info.resource}.${info.group}`) return false;
  if (m.namespace !== undefined && m.namespace !== info.namespace) return false;
  if (m.watch !== undefined && m.watch !== (info.verb === 'watch')) return false;
  return true;
}

interface Gate {
  match: FaultMatcher | undefined;
  released: Promise<void>;
  release: () => void;
}

export class FaultInjector {
  delayMs = 0;
  #armed: ArmedFailure[] = [];
  #always: { status: number; match: FaultMatcher | undefined } | undefined;
  #gates = new Set<Gate>();

  /**
   * Holds matching requests (before authentication) until the returned function
   * is called: a deterministic way to change state "while a request is in flight".
   */
  hold(match?: FaultMatcher): () => void {
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const gate: Gate = { match, released, release: () => undefined };
    gate.release = () => {
      this.#gates.delete(gate);
      release();
    };
    this.#gates.add(gate);
    return gate.release;
  }

  /** Resolves when no gate holds this request any more. */
  async passGates(path: string, info: RequestInfo | undefined): Promise<void> {
    for (const gate of [...this.#gates]) {
      if (info !== undefined ? matchesRequest(gate.match, path, info) : gate.match === undefined) await gate.released;
    }
  }

  failNext(count: number, options: FailOptions = {}): void {
    if (count > 0) this.#armed.push({ remaining: count, status: options.status ?? 500, match: options.match });
  }

  failAll(options: FailOptions = {}): void {
    this.#always = { status: options.status ?? 500, match: options.match };
  }

  clear(): void {
    this.delayMs = 0;
    for (const gate of [...this.#gates]) gate.release();
    this.#armed = [];
    this.#always = undefined;
  }

  /** The status to fail this request with, consuming one armed failure; undefined lets it through. */
  takeFailure(path: string, info: RequestInfo): number | undefined {
    for (const a of this.#armed) {
      if (a.remaining > 0 && matchesRequest(a.match, path, info)) {
        a.remaining--;
        this.#armed = this.#armed.filter((x) => x.remaining > 0);
        return a.status;
      }
    }
    if (this.#always && matchesRequest(this.#always.match, path, info)) return this.#always.status;
    return undefined;
  }
}
