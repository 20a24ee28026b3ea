import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { echoClient, type EchoClient } from './echo.ts';

let registered = false;

/**
 * An echo client that resolves its target through xDS with the real @grpc/grpc-js-xds.
 * Each client gets its own bootstrap (the per-channel option), so one process can act as
 * several nodes in several clusters.
 */
export function xdsEchoClient(target: string, bootstrap: object): EchoClient {
  if (!registered) {
    grpcXds.register();
    registered = true;
  }
  return echoClient(target, grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
  });
}
