import type { ProxyNode, PushRequest } from '@meridian/model';
import type { TypeUrl } from './type-url.ts';

/** One resource ready for the wire: serialized once, shared by every proxy with the same view. */
export interface GeneratedResource {
  readonly name: string;
  /** The encoded `google.protobuf.Any`. */
  readonly any: Buffer;
  /** Content hash of `any`: equal bytes give equal versions on every replica. */
  readonly version: string;
}

/**
 * The seam between the xDS protocol and the mesh state it serves (go-control-plane's
 * ConfigWatcher idea): the ADS server never builds a resource, the source never sees a stream.
 */
export interface ResourceSource {
  /**
   * The resources of a type for a proxy. `names` undefined means wildcard. Unknown names are
   * left out, except for endpoints: every requested ClusterLoadAssignment is answered, empty
   * if need be, because a gRPC client waits forever on an unanswered EDS name.
   */
  generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[];
  /** Whether a change could alter the named resource (or, for `undefined`, any of the type). */
  affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean;
  /**
   * Forget cached resources that the change makes stale. Called once per push, before
   * generating. Returns the request as proxies are to be asked about it: the one given, or
   * with keys the source found changed besides (a ServiceEntry's selected workloads).
   */
  invalidate(request: PushRequest): PushRequest;
}
