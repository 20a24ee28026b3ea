import type { ProxyNode } from '@meridian/model';
import type { GeneratedResource } from './resource-source.ts';
import {
  ClientStatus,
  ConfigStatus,
  typeVersion,
  type DeltaWatchState,
  type GenerateFn,
  type ResourceStatus,
  type TypeWatchState,
} from './stream-state.ts';
import { PUSH_ORDER, requiresFullStateInSotw, type TypeUrl } from './type-url.ts';

/*
 * Per resource of a connection, where it stands (`XdsConnection.resourceStatuses`). Delta
 * streams know it per resource (each response is ACKed on its own). SotW streams know it per
 * type: the newest response was ACKed, NACKed or not answered yet, and every resource of the
 * type shares that status. The resource bytes are not kept per connection; since versions
 * are content hashes, the source's current resource is exactly what was sent whenever the
 * versions are equal.
 */

/** A state-of-the-world stream's statuses, type by type in push order. */
export function sotwStatuses(proxy: ProxyNode, watches: ReadonlyMap<TypeUrl, TypeWatchState>, generate: GenerateFn): ResourceStatus[] {
  return PUSH_ORDER.flatMap((typeUrl) => {
    const w = watches.get(typeUrl);
    return w ? sotwRows(typeUrl, w, current(generate, typeUrl, proxy, w.names)) : [];
  });
}

/** A delta stream's statuses, type by type in push order. */
export function deltaStatuses(proxy: ProxyNode, watches: ReadonlyMap<TypeUrl, DeltaWatchState>, generate: GenerateFn): ResourceStatus[] {
  return PUSH_ORDER.flatMap((typeUrl) => {
    const w = watches.get(typeUrl);
    if (!w) return [];
    const names = new Set([...w.resources.keys(), ...w.explicit]);
    return deltaRows(typeUrl, w, names, current(generate, typeUrl, proxy, names));
  });
}

function current(generate: GenerateFn, typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): Map<string, GeneratedResource> {
  return new Map(generate(typeUrl, proxy, names).map((r) => [r.name, r]));
}

function sotwRows(typeUrl: TypeUrl, w: TypeWatchState, current: ReadonlyMap<string, GeneratedResource>): ResourceStatus[] {
  const fullState = requiresFullStateInSotw(typeUrl);
  const versions = fullState ? fullStateVersions(w, current) : w.sentVersions;
  const names = w.names ?? new Set(fullState ? current.keys() : w.sentVersions.keys());
  const nacked = w.lastNack !== undefined && w.lastNack.nonce === w.lastNonce;
  const acked = w.lastNonce !== undefined && w.ackedNonce === w.lastNonce;
  return [...names].sort().map((name) => {
    const version = versions.get(name);
    if (version === undefined) return w.lastNonce !== undefined && fullState && current.has(name) ? inFlight(typeUrl, name, w) : notSent(typeUrl, name);
    const resource = sameVersion(current.get(name), version);
    const error = nacked && w.lastNack ? { message: w.lastNack.message, at: w.lastNack.at, version } : undefined;
    if (error) return { typeUrl, name, version, configStatus: ConfigStatus.Error, clientStatus: ClientStatus.Nacked, lastUpdated: w.lastSentAt, error, resource };
    return {
      typeUrl,
      name,
      version,
      configStatus: acked ? ConfigStatus.Synced : ConfigStatus.Stale,
      clientStatus: acked ? ClientStatus.Acked : ClientStatus.Requested,
      lastUpdated: w.lastSentAt,
      error: undefined,
      resource,
    };
  });
}

/**
 * LDS/CDS responses carry the whole type and the connection keeps only its version: when
 * the source's current set hashes to it, the current resources are exactly what was sent.
 * Otherwise a newer state is on its way and per-resource versions are unknown.
 */
function fullStateVersions(w: TypeWatchState, current: ReadonlyMap<string, GeneratedResource>): ReadonlyMap<string, string> {
  if (w.lastVersion === undefined || typeVersion([...current.values()]) !== w.lastVersion) return new Map();
  return new Map([...current.values()].map((r) => [r.name, r.version]));
}

/** Sent in some form, but not at a version this server can name any more (a push in flight). */
function inFlight(typeUrl: TypeUrl, name: string, w: TypeWatchState): ResourceStatus {
  return { ...notSent(typeUrl, name), configStatus: ConfigStatus.Stale, lastUpdated: w.lastSentAt };
}

function deltaRows(
  typeUrl: TypeUrl,
  w: DeltaWatchState,
  names: ReadonlySet<string>,
  current: ReadonlyMap<string, GeneratedResource>,
): ResourceStatus[] {
  return [...names].sort().map((name) => {
    const record = w.resources.get(name);
    if (!record) return notSent(typeUrl, name);
    const resource = sameVersion(current.get(name), record.version);
    const base = { typeUrl, name, version: record.version, lastUpdated: record.at, resource };
    switch (record.state) {
      case 'acked':
        return { ...base, configStatus: ConfigStatus.Synced, clientStatus: ClientStatus.Acked, error: undefined };
      case 'nacked': {
        const nack = w.lastNack?.nonce === record.nonce ? w.lastNack : undefined;
        const error = { message: nack?.message ?? '', at: nack?.at ?? record.at, version: record.version };
        return { ...base, configStatus: ConfigStatus.Error, clientStatus: ClientStatus.Nacked, error };
      }
      case 'sent':
        return { ...base, configStatus: ConfigStatus.Stale, clientStatus: ClientStatus.Requested, error: undefined };
    }
  });
}

function notSent(typeUrl: TypeUrl, name: string): ResourceStatus {
  return {
    typeUrl,
    name,
    version: undefined,
    configStatus: ConfigStatus.NotSent,
    clientStatus: ClientStatus.Requested,
    lastUpdated: undefined,
    error: undefined,
    resource: undefined,
  };
}

function sameVersion(resource: GeneratedResource | undefined, version: string): GeneratedResource | undefined {
  return resource?.version === version ? resource : undefined;
}
