export { AdsTestClient, TypeUrls, type AdsRequest, type AdsResponse, type TestNode } from './ads-client.ts';
export { decodeAny, envoyPackageDefinition, type AnyMessage } from './envoy-protos.ts';
export { echoClient, echoService, startEchoBackend, type EchoBackend, type EchoClient, type EchoReply } from './echo.ts';
export { xdsEchoClient } from './xds-client.ts';
