/** How the CLI reads Meridian's /debug endpoints: with the debug token when it has one. */
import { cliDebugToken } from './config.ts';

/** `--server` and `--token-file`, as every command that reads /debug takes them. */
export interface DebugServerOptions {
  readonly server: string;
  readonly tokenFile?: string;
}

/** Meridian's HTTP port as a base URL; `host:port` without a scheme means http. */
export function httpBase(server: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
  return withScheme.replace(/\/+$/, '');
}

/** One Meridian replica's HTTP port, however it is reached (directly, or through an API server's pod proxy). */
export interface DebugReader {
  /** How the replica is named in output: its URL, or `<namespace>/<pod>`. */
  readonly base: string;
  /** A debug view's JSON; an error answer throws with the server's own message. */
  get<T>(path: string): Promise<T>;
  /** Whether a path answers 2xx (`/readyz`). */
  ok(path: string): Promise<boolean>;
}

/** A reader of one Meridian's debug JSON at its HTTP address. */
export function debugClient(options: DebugServerOptions): DebugReader {
  const base = httpBase(options.server);
  const token = cliDebugToken(options.tokenFile);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    base,
    get: async <T>(path: string): Promise<T> => {
      const res = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: unknown };
        const hint = res.status === 401 || res.status === 403 ? ' (give --token-file or set MERIDIAN_DEBUG_TOKEN)' : '';
        throw new Error(`${path}: HTTP ${res.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}${hint}`);
      }
      return (await res.json()) as T;
    },
    ok: async (path: string): Promise<boolean> => (await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) })).ok,
  };
}
