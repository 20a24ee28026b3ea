import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@meridian/model';
import type { Metrics } from './metrics.ts';

/** What the HTTP endpoints read; each view is computed on request. */
export interface HttpViews {
  readonly ready: () => { ready: boolean; detail: object };
  /** Plain documents (trust bundles): path → content type and body. */
  readonly files?: Readonly<Record<string, { contentType: string; body: () => string }>>;
  readonly debug: Readonly<Record<string, (query: Record<string, string>) => unknown>>;
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
    app.get(path, async (_req, reply) => reply.header('content-type', file.contentType).send(file.body()));
  }
  app.get('/debug', async () => ({ endpoints: Object.keys(options.views.debug).map((k) => `/debug/${k}`) }));
  for (const [name, view] of Object.entries(options.views.debug)) {
    app.get(`/debug/${name}`, async (req) => view(req.query as Record<string, string>));
  }
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { app, port };
}
