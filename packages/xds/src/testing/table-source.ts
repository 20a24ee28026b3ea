import type { ProxyNode, PushRequest } from '@meridian/model';
import type { GeneratedResource, ResourceSource } from '../resource-source.ts';
import type { ResponseStream } from '../send-queue.ts';
import { TypeUrl } from '../type-url.ts';
import { encodeAny } from '../wire.ts';

/**
 * Fakes at the connection's boundaries, for tests:
 * a resource source over a plain table and a response stream that records what was written.
 */

/** A proxy as the connection tests use it; the table source ignores who asks. */
export const TEST_PROXY: ProxyNode = {
  id: 'p1',
  type: 'grpc',
  cluster: 'c1',
  network: 'n1',
  namespace: 'demo',
  locality: { region: 'r', zone: '', subzone: '' },
  ipAddresses: [],
  labels: {},
};

/**
 * Name → content per type. A resource's version is `name@content` and its `Any` value is
 * `name=content`, so a decoded response says what it carried. EDS answers unknown names
 * with `empty`. `affects` is true when a key of the push has the resource's name (or the push
 * names nothing).
 */
export class TableSource implements ResourceSource {
  readonly table = new Map<TypeUrl, Map<string, string>>();
  generated = 0;

  set(typeUrl: TypeUrl, name: string, content: string | undefined): void {
    let t = this.table.get(typeUrl);
    if (!t) this.table.set(typeUrl, (t = new Map()));
    if (content === undefined) t.delete(name);
    else t.set(name, content);
  }

  generate(typeUrl: TypeUrl, _proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    this.generated++;
    const t = this.table.get(typeUrl) ?? new Map<string, string>();
    const wanted = names ?? (typeUrl === TypeUrl.Endpoint || typeUrl === TypeUrl.Route ? [] : [...t.keys()]);
    const out: GeneratedResource[] = [];
    for (const name of wanted) {
      const content = t.get(name) ?? (typeUrl === TypeUrl.Endpoint ? 'empty' : undefined);
      if (content !== undefined) out.push({ name, version: `${name}@${content}`, any: encodeAny(typeUrl, Buffer.from(`${name}=${content}`)) });
    }
    return out;
  }

  affects(request: PushRequest, _typeUrl: TypeUrl, _proxy: ProxyNode, name: string | undefined): boolean {
    return request.configs.length === 0 || name === undefined || request.configs.some((k) => k.name === name);
  }

  invalidate(request: PushRequest): PushRequest {
    return request;
  }
}

/**
 * Records every write. While `writable` is false the client takes nothing: write callbacks
 * wait for `release()`, as grpc-js holds them once HTTP/2 flow control stops a stream. Give
 * the connection `maxBufferedBytes: 1` to block on the first write not taken.
 */
export class CapturingStream implements ResponseStream {
  readonly written: Buffer[] = [];
  writable = true;
  private readonly held: Array<() => void> = [];

  write(chunk: Buffer, callback: () => void): boolean {
    this.written.push(chunk);
    if (this.writable) callback();
    else this.held.push(callback);
    return true;
  }

  release(): void {
    this.writable = true;
    for (const callback of this.held.splice(0)) callback();
  }
}
