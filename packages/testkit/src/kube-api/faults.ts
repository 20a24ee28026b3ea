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

export class FaultInjector {
  delayMs = 0;
  #armed: ArmedFailure[] = [];
  #always: { status: number; match: FaultMatcher | undefined } | undefined;

  failNext(count: number, options: FailOptions = {}): void {
    if (count > 0) this.#armed.push({ remaining: count, status: options.status ?? 500, match: options.match });
  }

  failAll(options: FailOptions = {}): void {
    this.#always = { status: options.status ?? 500, match: options.match };
  }

  clear(): void {
    this.delayMs = 0;
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
