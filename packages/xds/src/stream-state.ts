/**
 * What both ADS variants (state of the world and delta) keep per stream and type, and the
 * rules they share: the per-type watch state, the type version, make-before-break for
 * removals, and the connection interface the server, its hooks, /debug/syncz and CSDS see.
 */
import { createHash } from 'node:crypto';
import type { Logger, ProxyNode, PushRequest } from '@meridian/model';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import type { ResponseStream } from './send-queue.ts';
import type { SetDigest } from './set-digest.ts';
import { TypeUrl } from './type-url.ts';

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
  readonly variant: StreamVariant;
  push(request: PushRequest): void;
  /**
   * This connection's own resources of a type changed (its secrets: issued, renewed, new
   * roots): send what differs from what it holds, if it watches the type. Never a mesh push.
   */
  refresh(typeUrl: TypeUrl): void;
  close(): void;
  /** Per resource of every watched type, where it stands with the client (CSDS). */
  resourceStatuses(generate: GenerateFn): ResourceStatus[];
}

/** What a connection of either variant is made with. */
export interface ConnectionOptions {
  readonly id: string;
  readonly proxy: ProxyNode;
  readonly stream: ResponseStream;
  readonly source: ResourceSource;
  readonly logger: Logger;
  readonly hooks?: Partial<StreamHooks>;
  readonly peer?: string;
  /** Bytes not yet taken by the client past which nothing more is built (`SendQueue`). */
  readonly maxBufferedBytes?: number | undefined;
  /** NACK warnings per type: one, then a count per this interval (`NackLog`). */
  readonly nackLogIntervalMs?: number | undefined;
}

/** Optional observers for streams of either variant; every hook may be absent. */
export interface StreamHooks {
  onResponse(conn: XdsConnection, typeUrl: TypeUrl, resources: number, bytes: number): void;
  onAck(conn: XdsConnection, typeUrl: TypeUrl, convergenceMs: number | undefined): void;
  onNack(conn: XdsConnection, typeUrl: TypeUrl, message: string): void;
}

export interface TypeWatchState {
  names: ReadonlySet<string> | undefined;
  /** Version of each resource as last sent, to send only what changed (RDS/EDS). */
  readonly sentVersions: Map<string, string>;
  lastNonce: string | undefined;
  lastVersion: string | undefined;
  lastSentAt: number | undefined;
  lastSentCount: number;
  /** When the change behind the last response happened, for convergence time. */
  lastChangeAt: number | undefined;
  ackedVersion: string | undefined;
  ackedNonce: string | undefined;
  ackedAt: number | undefined;
  lastNack: { nonce: string; version: string; code: number; message: string; at: number } | undefined;
  requests: number;
}

/** A type's stream state before anything was sent or acknowledged (both ADS variants). */
export function newTypeWatch(names: ReadonlySet<string> | undefined): TypeWatchState {
  return {
    names,
    sentVersions: new Map(),
    lastNonce: undefined,
    lastVersion: undefined,
    lastSentAt: undefined,
    lastSentCount: 0,
    lastChangeAt: undefined,
    ackedVersion: undefined,
    ackedNonce: undefined,
    ackedAt: undefined,
    lastNack: undefined,
    requests: 0,
  };
}

/** A type's version: a hash of its resources' names and versions, the same on every replica. */
export function typeVersion(resources: readonly GeneratedResource[]): string {
  const known = typeVersions.get(resources);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  for (const r of [...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    hash.update(r.name).update('\0').update(r.version).update('\n');
  }
  const version = hash.digest('base64url').slice(0, 16);
  typeVersions.set(resources, version);
  return version;
}

/** Shared resource lists (wildcard answers) are hashed once, not once per proxy. */
const typeVersions = new WeakMap<readonly GeneratedResource[], string>();

/** Where one resource stands with the client: the version it has and how it got there. */
export interface DeltaResourceRecord {
  readonly version: string;
  /** The response that carried it; '' when the client reported it in initial_resource_versions. */
  readonly nonce: string;
  readonly at: number;
  state: 'sent' | 'acked' | 'nacked';
  /** This (name, version)'s share of the watch's `digest`, to take it out again. */
  readonly digest: Uint8Array;
}

/**
 * Per-type state of a delta stream. The fields of `TypeWatchState` mean what they mean for
 * SotW (`names` undefined = wildcard), with `sentVersions` = what the client has now, and
 * `lastVersion` = a hash of that set (delta has no type version; it only helps debugging).
 */
export interface DeltaWatchState extends TypeWatchState {
  wildcard: boolean;
  legacyWildcard: boolean;
  readonly explicit: Set<string>;
  readonly resources: Map<string, DeltaResourceRecord>;
  /** Responses not yet (N)ACKed: nonce → what they carried. Bounded (delta-connection.ts MAX_OUTSTANDING). */
  readonly outstanding: Map<string, { readonly names: readonly string[]; readonly version: string }>;
  /** Of `sentVersions`, kept as it changes; `lastVersion` is read from it. */
  readonly digest: SetDigest;
  /** Changes to `sentVersions`, so a cached "client in sync" can tell it is stale. */
  mutations: number;
}

/** CSDS's `ConfigStatus`, from the server's side: what we sent versus what the client said. */
export const ConfigStatus = { Synced: 'SYNCED', NotSent: 'NOT_SENT', Stale: 'STALE', Error: 'ERROR' } as const;
export type ConfigStatus = (typeof ConfigStatus)[keyof typeof ConfigStatus];

/** `envoy.admin.v3.ClientResourceStatus`, the subset a server can tell. */
export const ClientStatus = { Requested: 'REQUESTED', Acked: 'ACKED', Nacked: 'NACKED' } as const;
export type ClientStatus = (typeof ClientStatus)[keyof typeof ClientStatus];

export interface ResourceStatus {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  /** The version last sent; undefined when nothing was sent. */
  readonly version: string | undefined;
  readonly configStatus: ConfigStatus;
  readonly clientStatus: ClientStatus;
  readonly lastUpdated: number | undefined;
  readonly error: { readonly message: string; readonly at: number; readonly version: string } | undefined;
  /** The bytes last sent, when the source still produces exactly them (equal content hash). */
  readonly resource: GeneratedResource | undefined;
}

export type GenerateFn = (typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined) => GeneratedResource[];

/**
 * Make-before-break for removals, for both variants: a cluster that goes away stays while
 * listeners or routes are still queued behind this response (they may be what stops using
 * it); a follow-up response queued behind them removes it. Deciding by what is queued, not
 * by which push asked, keeps this right when a stalled stream merges several pushes.
 */
export function removalsWait(typeUrl: TypeUrl, queue: { readonly dependentsPending: boolean }): boolean {
  return typeUrl === TypeUrl.Cluster && queue.dependentsPending;
}

/**
 * A push's number, as connections first see it; a merged pending push is a new one. Responses
 * a push builds carry `p<number>` as nonce, so streams given equal responses share the bytes.
 */
export function pushId(push: PushRequest): string {
  let id = pushIds.get(push);
  if (id === undefined) pushIds.set(push, (id = (++pushCounter).toString(36)));
  return id;
}

const pushIds = new WeakMap<PushRequest, string>();
let pushCounter = 0;
