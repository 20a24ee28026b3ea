/**
 * grpc-js-xds enforces RBAC on XdsServers only with this set, and reads it once when loaded:
 * a test imports this module before anything that loads grpc-js-xds.
 */
process.env['GRPC_XDS_EXPERIMENTAL_RBAC'] = 'true';
