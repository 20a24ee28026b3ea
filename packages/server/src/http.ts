import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@meridian/model';
import type { Metrics } from './metrics.ts';

/** A document, or (nothing to serve: unknown name, not fetched yet) a status and a one-line reason. */
export type FileBody = string | { readonly status: number; readonly reason: string };

/** What the HTTP endpoints read; each view is computed on request. */
export interface HttpViews {
  readonly ready: () => { ready: boolean; detail: object };
  /** Plain documents (trust bundles): path → content type and body, which may read the query. */
  readonly files?: Readonly<Record<string, { contentType: string; body: (query: Record<string, string>) => FileBody }>>;
  readonly debug: Readonly<Record<string, (query: Record<string, string>) => unknown>>;
}

/**
 * Every view reads each parameter once; fastify turns a repeated one into an array, which a
 * view would misread. Such a request is the caller's mistake: a 400 that names the parameter.
 */
function singleValued(query: unknown): { query: Record<string, string> } | { error: string } {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') return { error: `query parameter "${key}" is given more than once; give it once` };
    out[key] = value;
  }
  return { query: out };
}

export async function startHttp(options: {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  views: HttpViews;
}): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Probes and scrapes every few seconds would drown the log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready, detail } = options.views.ready();
    return reply.code(ready ? 200 : 503).send({ ready, ...detail });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  for (const [path, file] of Object.entries(options.views.files ?? {})) {
    app.get(path, async (req, reply) => {
      const parsed = singleValued(req.query);
      const out = 'error' in parsed ? { status: 400, reason: parsed.error } : file.body(parsed.query);
      if (typeof out === 'string') return reply.header('content-type', file.contentType).send(out);
      return reply.code(out.status).header('content-type', 'text/plain; charset=utf-8').send(`${out.reason}\n`);
    });
  }
  app.get('/debug', async () => ({ endpoints: Object.keys(options.views.debug).map((k) => `/debug/${k}`) }));
  for (const [name, view] of Object.entries(options.views.debug)) {
    app.get(`/debug/${name}`, async (req, reply) => {
      const parsed = singleValued(req.query);
      if ('error' in parsed) return reply.code(400).send({ error: parsed.error });
      return view(parsed.query);
    });
  }
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { app, port };
}
