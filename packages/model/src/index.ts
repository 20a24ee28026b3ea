export * from './mesh.ts';
export * from './hostname.ts';
export * from './ports.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './traffic-policy.ts';
export * from './security-policy.ts';
export * from './packed-assets.ts';
