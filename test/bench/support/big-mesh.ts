/** The 50k-endpoint manifest the discovery and probe benches load: 50 services, 500 slices of 100. */
import { endpointSlice, service } from '../../support/manifests.ts';

export const MANIFEST_SERVICES = 50;
export const SLICES_PER_SERVICE = 10;
export const ENDPOINTS_PER_SLICE = 100;

export function bigManifest(): { objects: object[]; endpoints: number } {
  const objects: object[] = [];
  for (let s = 0; s < MANIFEST_SERVICES; s++) {
    objects.push(service(`svc-${s}`, 'demo', [{ name: 'grpc', port: 7070 }]));
    for (let k = 0; k < SLICES_PER_SERVICE; k++) {
      const endpoints = Array.from({ length: ENDPOINTS_PER_SLICE }, (_, e) => ({ address: `10.${s}.${k}.${e + 1}`, node: `node-${e % 20}` }));
      objects.push(endpointSlice(`svc-${s}-${k}`, 'demo', `svc-${s}`, { name: 'grpc', port: 7070 }, endpoints));
    }
  }
  return { objects, endpoints: MANIFEST_SERVICES * SLICES_PER_SERVICE * ENDPOINTS_PER_SLICE };
}
