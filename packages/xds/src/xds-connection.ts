import type { ProxyNode, PushRequest } from '@meridian/model';
import type { TypeWatchState } from './connection.ts';
import type { TypeUrl } from './type-url.ts';

export const StreamVariant = { Sotw: 'sotw', Delta: 'delta' } as const;
export type StreamVariant = (typeof StreamVariant)[keyof typeof StreamVariant];

/**
 * What the server, its hooks, `/debug/syncz` and CSDS need from an ADS stream of either
 * variant. `watches` has the same per-type shape for both, so views read them alike.
 */
export interface XdsConnection {
  readonly id: string;
  readonly proxy: ProxyNode;
  readonly peer: string | undefined;
  readonly connectedAt: number;
  readonly isBlocked: boolean;
  /** Response bytes written and not yet taken by the client. */
  readonly bufferedBytes: number;
  readonly pushes: number;
  readonly watches: ReadonlyMap<TypeUrl, TypeWatchState>;
  push(request: PushRequest): void;
  /**
   * This connection's own resources of a type changed (its secrets: issued, renewed, new
   * roots): send what differs from what it holds, if it watches the type. Never a mesh push.
   */
  refresh(typeUrl: TypeUrl): void;
  close(): void;
}

/** Optional observers for streams of either variant; every hook may be absent. */
export interface StreamHooks {
  onResponse(conn: XdsConnection, typeUrl: TypeUrl, resources: number, bytes: number): void;
  onAck(conn: XdsConnection, typeUrl: TypeUrl, convergenceMs: number | undefined): void;
  onNack(conn: XdsConnection, typeUrl: TypeUrl, message: string): void;
}
