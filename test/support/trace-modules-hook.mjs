// Module resolution hook for trace-modules.mjs (runs on Node's loader thread).
let needle = '';

export function initialize(data) {
  needle = data?.needle ?? '';
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (needle && resolved.url.includes(needle)) console.error(`module-trace ${resolved.url}`);
  return resolved;
}
