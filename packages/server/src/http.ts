import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '@meridian/model';
import { LOG_LEVELS } from './config.ts';
import { debugAccessAllowed, type DebugAccess } from './debug-access.ts';
import { listenError } from './listen-error.ts';
import type { Metrics } from './metrics.ts';
import { statusPageRoutes } from './status-page.ts';
import { problem, problemBody, HttpErrorCode, Problem } from './http-problem.ts';

export { problem, HttpErrorCode, Problem } from './http-problem.ts';

/** A document, or (nothing to serve: unknown name, not fetched yet) a status and a one-line reason. */
export type FileBody = string | { readonly status: number; readonly reason: string };

/** What a debug view's query parameter must be; a view without a spec takes any parameter. */
export interface ParamSpec {
  readonly required?: boolean;
  /** Checks a given value; returns what is wrong with it, or undefined when it is fine. */
  readonly check?: (value: string) => string | undefined;
  /** Shown in the 400 answer, e.g. `HOST` or `region/zone/subzone`. */
  readonly form: string;
}

/** What the HTTP endpoints read; each view is computed on request. */
export interface HttpViews {
  readonly ready: () => { ready: boolean; detail: object };
  /** Plain documents (trust bundles): path → content type and body, which may read the query. */
  readonly files?: Readonly<Record<string, { contentType: string; body: (query: Record<string, string>) => FileBody }>>;
  /** `/debug/<name>`: a JSON document, or a Problem (400, 404, 409) the caller gets as an error. */
  readonly debug: Readonly<Record<string, (query: Record<string, string>) => unknown>>;
  /** The parameters each debug view takes: any other, a missing required one or a bad value is a 400. */
  readonly debugParams?: Readonly<Record<string, Readonly<Record<string, ParamSpec>>>>;
  /** `PUT /debug/loglevel`: changes the level of every logger at run time. */
  readonly setLogLevel?: (level: string) => string | undefined;
}

/**
 * Every view reads each parameter once; fastify turns a repeated one into an array, which a
 * view would misread. Such a request is the caller's mistake: a 400 that names the parameter.
 */
function singleValued(query: unknown): { query: Record<string, string> } | Problem {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') return badParameter(key, `query parameter "${key}" is given more than once; give it once`);
    out[key] = value;
  }
  return { query: out };
}

const badParameter = (parameter: string, message: string) => problem(400, HttpErrorCode.BadParameter, message, { parameter });

/** The first thing wrong with a query against a view's parameters, naming the parameter. */
export function checkParams(view: string, query: Record<string, string>, spec: Readonly<Record<string, ParamSpec>>): Problem | undefined {
  const known = Object.keys(spec);
  for (const key of Object.keys(query)) {
    if (!(key in spec)) {
      const takes = known.length === 0 ? 'takes no query parameters' : `takes ${known.map((k) => `"${k}"`).join(', ')}`;
      return badParameter(key, `unknown query parameter "${key}": /debug/${view} ${takes}`);
    }
  }
  for (const [key, p] of Object.entries(spec)) {
    const value = query[key];
    if (value === undefined || value === '') {
      if (p.required) return badParameter(key, `query parameter "${key}" is required: ${key}=${p.form}`);
      continue;
    }
    const wrong = p.check?.(value);
    if (wrong) return badParameter(key, `query parameter "${key}": ${wrong} (expected ${key}=${p.form})`);
  }
  return undefined;
}

/** The query as a view reads it, or what is wrong with it. A view without a spec takes any parameter. */
function queryFor(view: string, raw: unknown, spec: Readonly<Record<string, ParamSpec>> | undefined): Record<string, string> | Problem {
  const parsed = singleValued(raw);
  if (parsed instanceof Problem) return parsed;
  return (spec && checkParams(view, parsed.query, spec)) ?? parsed.query;
}

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).header('content-type', 'application/json; charset=utf-8').send(problemBody(p));
}

export async function startHttp(options: {
  /** The config key of the address, named when it cannot be opened. */
  listenKey?: string;
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  views: HttpViews;
  /** Who may read /debug/* and the status page; default: localhost only. */
  access?: DebugAccess;
}): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Probes and scrapes every few seconds would drown the log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const access = options.access ?? {};
  const refuseStranger = (req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const verdict = debugAccessAllowed(access, req.socket.remoteAddress, req.headers.authorization);
    if (verdict.allowed) return undefined;
    if (verdict.status === 401) reply.header('www-authenticate', 'Bearer realm="meridian-debug"');
    return sendProblem(reply, problem(verdict.status, verdict.status === 401 ? HttpErrorCode.Unauthorized : HttpErrorCode.Forbidden, verdict.message));
  };
  // One error shape for everything this port answers with an error, routes unknown to fastify too.
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    // Which debug views exist is for those who may read them.
    if (path.startsWith('/debug')) {
      const refused = refuseStranger(req, reply);
      if (refused) return refused;
    }
    return sendProblem(reply, problem(404, HttpErrorCode.NotFound, `no such path: ${req.method} ${path}`));
  });
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'HTTP handler failed');
    return sendProblem(reply, problem(status, status === 500 ? HttpErrorCode.Internal : HttpErrorCode.BadRequest, status === 500 ? 'internal error (see the log)' : err.message));
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
      const out = parsed instanceof Problem ? { status: 400, reason: parsed.message } : file.body(parsed.query);
      if (typeof out === 'string') return reply.header('content-type', file.contentType).send(out);
      return reply.code(out.status).header('content-type', 'text/plain; charset=utf-8').send(`${out.reason}\n`);
    });
  }

  // Everything below shows the mesh's inner workings: localhost, or the debug token.
  await app.register(async (debug) => {
    debug.addHook('onRequest', async (req, reply) => refuseStranger(req, reply));
    statusPageRoutes(debug);
    debug.get('/debug', async () => ({ endpoints: Object.keys(options.views.debug).map((k) => `/debug/${k}`) }));
    for (const [name, view] of Object.entries(options.views.debug)) {
      const spec = options.views.debugParams?.[name];
      debug.get(`/debug/${name}`, async (req, reply) => {
        const query = queryFor(name, req.query, spec);
        if (query instanceof Problem) return sendProblem(reply, query);
        const out = view(query);
        return out instanceof Problem ? sendProblem(reply, out) : out;
      });
    }
    const setLogLevel = options.views.setLogLevel;
    if (setLogLevel) {
      debug.put('/debug/loglevel', async (req, reply) => {
        const query = queryFor('loglevel', req.query, { level: { required: true, form: LOG_LEVELS.join('|') } });
        if (query instanceof Problem) return sendProblem(reply, query);
        const level = query['level'] ?? '';
        const refused = setLogLevel(level);
        if (refused) return sendProblem(reply, badParameter('level', `query parameter "level": ${refused}`));
        req.log.warn({ logLevel: level, from: req.socket.remoteAddress }, 'log level changed');
        return { level };
      });
    }
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    throw listenError(err as Error, options.listenKey ?? 'listen.http', `${options.host}:${options.port}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { app, port };
}
