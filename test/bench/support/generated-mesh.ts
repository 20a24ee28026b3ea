/**
 * What `pnpm bench xds` and `pnpm bench policy` share: the generated mesh as Kubernetes
 * objects (services `svc-<i>` in `demo`, each with one EndpointSlice of ten endpoints), and
 * the child processes the benches drive by message (the ADS swarm, the raw baseline server).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { KubeApiServer, KubeObjectInput } from '@meridian/testkit';

export const ENDPOINTS_PER_SERVICE = 10;
export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
/** The assignment every simulated proxy watches. */
export const WATCHED = `outbound|8080||svc-0.demo.svc.cluster.local`;

export const k8s = (o: object) => o as KubeObjectInput;

/** Service `svc-<i>`'s endpoints; its first endpoint's readiness is what convergence rounds flip. */
export function slice(i: number, ready: boolean): KubeObjectInput {
  return k8s({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-abc`, namespace: 'demo', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8080 }],
    endpoints: Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, e) => ({
      addresses: [`10.${(i >> 8) & 255}.${i & 255}.${e + 1}`],
      conditions: { ready: e === 0 ? ready : true },
      nodeName: `node-${e % 3}`,
    })),
  });
}

export function service(i: number, port = 8080): KubeObjectInput {
  return k8s({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: 'demo' }, spec: { ports: [{ name: 'grpc', port }] } });
}

/** The generated mesh into the API: namespace `demo`, three nodes in zones of region r1, `services` services with their slices. */
export function seedMesh(api: KubeApiServer, services: number): void {
  api.upsert(k8s({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } }));
  for (let n = 0; n < 3; n++) api.upsert(k8s({ apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n}`, labels: { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': `z${n}` } } }));
  for (let i = 0; i < services; i++) {
    api.upsert(service(i));
    api.upsert(slice(i, true));
  }
}

/** A child process (test/bench/support) answering messages by key. */
export class Child {
  private readonly child: ChildProcess;
  private readonly inbox: object[] = [];
  private waiter: (() => void) | undefined;
  constructor(script: string, execArgv: string[], args: string[] = []) {
    this.child = fork(path.join(import.meta.dirname, script), args, { execArgv: [...execArgv, '--import', 'tsx'], stdio: 'inherit' });
    this.child.on('message', (m: object) => {
      this.inbox.push(m);
      this.waiter?.();
    });
  }
  async receive<T>(key: string): Promise<T> {
    for (;;) {
      const i = this.inbox.findIndex((m) => key in m);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  send(m: object): void {
    this.child.send(m);
  }
}

/** Simulated proxies in their own process (ads-swarm.ts). */
export class Swarm extends Child {
  constructor() {
    super('ads-swarm.ts', []);
  }
  async close(): Promise<void> {
    this.send({ cmd: 'close' });
    await this.receive('closed');
  }

  /**
   * Arms every stream for its next response of `typeUrl`, makes `change`, and resolves with
   * the milliseconds from the change to each stream's receipt, then lets the push settle.
   */
  async timeChange(typeUrl: string, change: () => void): Promise<number[]> {
    this.send({ cmd: 'arm', typeUrl });
    await this.receive('armed');
    const t0 = performance.timeOrigin + performance.now();
    change();
    const { times } = await this.receive<{ times: number[] }>('times');
    await new Promise((r) => setTimeout(r, 300));
    return times.map((t) => t - t0);
  }
}
