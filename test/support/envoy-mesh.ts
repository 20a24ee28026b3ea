/**
 * A mesh of real Envoy sidecars around the real `meridian serve`: pods from testkit's network
 * namespace test bed, each with its application, Istio's capture and an Envoy started from
 * `meridian bootstrap --envoy` on 15012 with an SVID of its service account.
 */
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EnvoyProxy, PodApp, SIDECAR_GID, SIDECAR_UID, Testbed, type Pod, type PodAppConfig, type Received } from '@meridian/testkit';
import { node, yamlDocs } from './manifests.ts';
import { MeridianProcess, Workspace } from './meridian-process.ts';
import { openTestCa, writeWorkloadCerts, type TestCa } from './workload-certs.ts';

export const TRUST_DOMAIN = 'cluster.local';
/** Meridian's serving certificate names this (besides its Service name). */
const SERVER_NAME = 'localhost';

export interface SidecarSpec {
  readonly cluster: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** `region/zone[/subzone]`. */
  readonly locality: string;
  readonly network?: string;
  /** What the pod's application serves. */
  readonly ports: PodAppConfig['ports'];
  /** Connect on the plaintext port 15010 with no certificate (default: 15012 with an SVID). */
  readonly plaintext?: boolean;
  /** The workload's labels as `key=value` (what policy selectors match). */
  readonly labels?: readonly string[];
}

export interface GatewaySpec {
  readonly cluster: string;
  readonly network: string;
  readonly locality: string;
}

/** Istio's east-west gateway: a `router` proxy with these labels, in istio-system. */
const EAST_WEST_GATEWAY = { namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: ['istio=eastwestgateway'] };

/** A pod with a real Envoy holding an SVID. */
export interface MeshProxy {
  readonly pod: Pod;
  readonly envoy: EnvoyProxy;
  readonly spiffeId: string;
}

/** A pod with its application and sidecar. */
export interface Workload extends MeshProxy {
  readonly app: PodApp;
}

export class EnvoyMesh {
  readonly bed: Testbed;
  readonly ws: Workspace;
  meridian: MeridianProcess | undefined;
  private ca: TestCa | undefined;
  /** The config `meridian serve` runs with (for commands that read it, such as `meridian token`). */
  configFile = '';
  readonly workloads: Workload[] = [];
  readonly gateways: MeshProxy[] = [];

  private readonly pods = new Map<string, Pod>();

  constructor() {
    this.bed = Testbed.create();
    this.ws = new Workspace('meridian-envoy-');
  }

  /** Adds pods to the test bed by name; `pod(name)` finds them. */
  addPods(names: readonly string[]): void {
    for (const name of names) this.pods.set(name, this.bed.addPod(name));
  }

  pod(name: string): Pod {
    const pod = this.pods.get(name);
    assert.ok(pod, `no pod ${name} was added`);
    return pod;
  }

  /** A manifest directory per cluster holding its one node, in `<region>` zone `<region>-1a`. */
  writeClusterNodes(clusters: ReadonlyArray<readonly [cluster: string, region: string]>): void {
    for (const [cluster, region] of clusters) {
      mkdirSync(this.ws.path(cluster));
      writeFileSync(this.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
    }
  }

  /**
   * Meridian on the test network's host address (pods reach it there), HTTP on loopback.
   * Sidecars' SVIDs for the xDS connection come from `ca` when the config plugs one in
   * (`ca.cacerts`), else from the self-signed CA Meridian keeps in the workspace.
   */
  async startMeridian(config: Record<string, unknown>, options: { ca?: TestCa } = {}): Promise<MeridianProcess> {
    const host = this.bed.network().hostAddress;
    this.configFile = this.ws.writeConfig({
      ...config,
      // Istio's ports: the address is the run's own, so they are free, and a restarted
      // Meridian comes back where its sidecars' bootstraps point.
      listen: { xds: `${host}:15010`, xdsTls: `${host}:15012`, http: '127.0.0.1:0' },
    });
    this.meridian = await MeridianProcess.start(['serve', '--config', this.configFile]);
    this.ca ??= options.ca ?? (await openTestCa(this.ws.path('ca'), TRUST_DOMAIN));
    return this.meridian;
  }

  /**
   * Stops Meridian and starts it again on the same config and ports, `downMs` after it has
   * exited; sidecars keep running.
   */
  async restartMeridian(options: { downMs?: number } = {}): Promise<MeridianProcess> {
    await this.server.stop();
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    this.meridian = await MeridianProcess.start(['serve', '--config', this.configFile]);
    return this.meridian;
  }

  private get server(): MeridianProcess {
    if (!this.meridian) throw new Error('start Meridian first');
    return this.meridian;
  }

  /** The pod's application, its capture, and its Envoy sidecar once the app is up. */
  async sidecar(pod: Pod, spec: SidecarSpec): Promise<Workload> {
    if (!this.ca) throw new Error('start Meridian first');
    const app = await PodApp.start(pod, spec.ports);
    pod.capture();
    const certDir = path.join(pod.dir, 'certs');
    const spiffeId = await writeWorkloadCerts(this.ca, certDir, { namespace: spec.namespace, serviceAccount: spec.serviceAccount });
    giveToSidecar(certDir);
    const envoy = await EnvoyProxy.start(pod, { bootstrap: await this.bootstrap(pod, spec, certDir) });
    const workload = { pod, app, envoy, spiffeId };
    this.workloads.push(workload);
    return workload;
  }

  /**
   * An east-west gateway in `pod` (no application, no capture): a real Envoy whose config
   * comes from Meridian, serving 15443 on every address of the pod.
   */
  async eastWestGateway(pod: Pod, spec: GatewaySpec): Promise<MeshProxy> {
    if (!this.ca) throw new Error('start Meridian first');
    const certDir = path.join(pod.dir, 'certs');
    const { namespace, serviceAccount, labels } = EAST_WEST_GATEWAY;
    const spiffeId = await writeWorkloadCerts(this.ca, certDir, { namespace, serviceAccount });
    giveToSidecar(certDir);
    const bootstrap = await this.bootstrap(pod, { ...spec, namespace, serviceAccount, ports: {}, kind: 'router', labels }, certDir);
    const envoy = await EnvoyProxy.start(pod, { bootstrap });
    const gateway = { pod, envoy, spiffeId };
    this.gateways.push(gateway);
    return gateway;
  }

  /** `meridian bootstrap --envoy` for the pod, as a user would run it. */
  async bootstrap(pod: Pod, spec: SidecarSpec & { kind?: 'sidecar' | 'router' }, certDir: string): Promise<string> {
    const args = [
      'bootstrap', '--envoy',
      '--node-id', `${spec.kind ?? 'sidecar'}~${pod.address}~${pod.name}.${spec.namespace}~${spec.namespace}.svc.cluster.local`,
      '--cluster', spec.cluster, '--locality', spec.locality, '--namespace', spec.namespace,
      '--service-account', spec.serviceAccount,
      ...(spec.network ? ['--network', spec.network] : []),
      ...(spec.labels ?? []).flatMap((l) => ['--label', l]),
      ...(spec.plaintext
        ? ['--server', this.server.xdsAddress]
        : ['--server', this.server.xdsTlsAddress, '--tls', '--cert-dir', certDir, '--server-name', SERVER_NAME]),
    ];
    const out = await MeridianProcess.run(args);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout;
  }

  /** Every sidecar holds its configuration with nothing rejected and nothing left warming. */
  async assertConfigsAccepted(): Promise<void> {
    for (const w of [...this.workloads, ...this.gateways]) {
      if (!w.envoy.process.running) continue;
      assert.deepEqual(await w.envoy.configProblems(), [], `envoy in ${w.pod.name}`);
    }
  }

  /** Logs of every process of the run, for a failure message. */
  logs(): string {
    const parts = [...this.workloads, ...this.gateways].map((w) => `--- ${w.pod.name} envoy (${w.pod.dir})\n${w.envoy.process.log()}`);
    return [...parts, `--- meridian\n${this.meridian?.stderr.join('') ?? ''}`].join('\n');
  }

  /** The end of a test file: every sidecar held its configuration, then everything is closed (whatever the check found). */
  async closeChecked(): Promise<void> {
    try {
      await this.assertConfigsAccepted();
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await this.meridian?.stop();
    await this.bed.close();
    this.ws.remove();
  }
}

/** Envoy's x-forwarded-client-cert as the server received it, `Key=value;…` with quoted values, as a map. */
export function xfcc(received: Received): Map<string, string> {
  const header = received.headers['x-forwarded-client-cert'] ?? '';
  return new Map([...header.matchAll(/([A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^;,]*)/g)].map((m) => [m[1] ?? '', (m[2] ?? '').replace(/^"|"$/g, '')]));
}

function giveToSidecar(dir: string): void {
  chownSync(dir, SIDECAR_UID, SIDECAR_GID);
  for (const entry of readdirSync(dir)) chownSync(path.join(dir, entry), SIDECAR_UID, SIDECAR_GID);
}
