import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Who may read `/debug/*` and the status page. Like istiod's debug port: callers on this host
 * (a `kubectl port-forward` arrives as one) are trusted; anyone else presents the bearer token
 * from `http.debugTokenFile`. Without a token file, only this host is answered.
 */
export interface DebugAccess {
  /** The current token (re-read when its file changes); undefined when none is configured. */
  readonly token?: () => string | undefined;
}

export type AccessVerdict = { readonly allowed: true } | { readonly allowed: false; readonly status: 401 | 403; readonly message: string };

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6 (a dual-stack listener reports those). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function debugAccessAllowed(access: DebugAccess, remoteAddress: string | undefined, authorization: string | undefined): AccessVerdict {
  if (isLoopback(remoteAddress)) return { allowed: true };
  const token = access.token?.();
  if (!token) {
    return { allowed: false, status: 403, message: 'the debug endpoints answer only localhost: set http.debugTokenFile to let others in with a bearer token' };
  }
  const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (!given) return { allowed: false, status: 401, message: 'a bearer token is required (Authorization: Bearer <token from http.debugTokenFile>)' };
  // Compared as digests: equal length, so the comparison's time says nothing about the token.
  if (!timingSafeEqual(digest(given), digest(token))) return { allowed: false, status: 401, message: 'the bearer token is not the debug token' };
  return { allowed: true };
}
