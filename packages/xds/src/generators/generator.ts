import { hash } from 'node:crypto';
import type { ProxyNode } from '@meridian/model';
import type { ChangeSet } from '../change-set.ts';
import { encodeMessage } from '../protos.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import type { GeneratedResource } from '../resource-source.ts';
import type { TypeUrl } from '../type-url.ts';
import { encodeAny } from '../wire.ts';

/**
 * Builds one type of resource for one kind of proxy (Istio's XdsResourceGenerator with its
 * cdsNeedsPush): whether a change can alter a resource is decided next to how it is built.
 * Both read only the push snapshot and the proxy.
 */
export interface Generator {
  /** Whether `changes` may alter the named resource (`undefined`: any resource of the type) for this proxy. */
  needsPush(changes: ChangeSet, snapshot: PushSnapshot, proxy: ProxyNode, name: string | undefined): boolean;
  /**
   * The resources for `names` (`undefined`: wildcard). Unknown names are left out, except
   * for endpoints: every requested assignment is answered, empty if need be.
   */
  generate(snapshot: PushSnapshot, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[];
}

/** Builds each name's resource, leaving out those that do not exist. */
export function buildEach(names: Iterable<string>, build: (name: string) => GeneratedResource | undefined): GeneratedResource[] {
  const out: GeneratedResource[] = [];
  for (const name of names) {
    const resource = build(name);
    if (resource) out.push(resource);
  }
  return out;
}

/** `value`: the message as a plain object, or already encoded. */
export function encodeResource(typeUrl: TypeUrl, name: string, value: object | Uint8Array): GeneratedResource {
  const any = encodeAny(typeUrl, value instanceof Uint8Array ? value : encodeMessage(typeUrl, value));
  return { name, any, version: contentVersion(any) };
}

export function contentVersion(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'base64url').slice(0, 16);
}
