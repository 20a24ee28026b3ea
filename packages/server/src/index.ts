export { grpcBootstrap, type GrpcBootstrapOptions } from './bootstrap.ts';
export { ConfigError, ENV, configSchema, loadConfig, parseConfig, type ClusterConfig, type MeridianConfig } from './config.ts';
export { startMeridian, type RunningMeridian } from './meridian.ts';
