/** Proxyless gRPC servers for the end-to-end tests: an `XdsServer` whose listener comes from Meridian, and its manifests. */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { echoService, type EchoReply } from '@meridian/testkit';
import { service, yamlDocs } from './manifests.ts';

/** A Service port 7070 whose one endpoint is a Pod running as `sa`, so the registry knows its identity. */
export function workloadManifests(name: string, address: string, port: number, sa: string): string {
  const pod = `${name}-0`;
  return yamlDocs(
    service(name, 'demo', [{ name: 'grpc', port: 7070 }]),
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'demo' }, spec: { serviceAccountName: sa }, status: { podIP: address } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'demo', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'grpc', port, protocol: 'TCP' }],
      endpoints: [{ addresses: [address], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'demo', name: pod } }],
    },
  );
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface SeenCall {
  readonly security: string | undefined;
  readonly peer: string | undefined;
}

/** An echo server whose listener (and so its TLS) comes from Meridian; records each caller's identity. */
export async function startXdsEchoServer(address: string, bootstrap: object, name: string): Promise<{ server: grpcXds.XdsServer; seen: SeenCall[] }> {
  const seen: SeenCall[] = [];
  const server = new grpcXds.XdsServer({ 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap) });
  server.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<{ message?: string }, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      const auth = call.getAuthContext();
      seen.push({ security: auth.transportSecurityType, peer: auth.sslPeerCertificate?.subjectaltname });
      callback(null, { cluster: 'east', backend: name, message: call.request.message ?? '' });
    },
  });
  // Resolves only once Meridian's listener for this address has arrived and is in use.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no listener from Meridian within 20 s`)), 20_000);
    server.bindAsync(address, new grpcXds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
  return { server, seen };
}

