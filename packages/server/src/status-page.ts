/**
 * The status page on the HTTP port: `GET /` and its two assets, plain files kept in
 * `status-page/` (no build step, no CDN, works offline). The page reads /debug/* from the
 * browser (same origin), so it serves exactly what the caller may read anyway.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const ASSETS = [
  { path: '/', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { path: '/ui/page.js', file: 'page.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/ui/page.css', file: 'page.css', contentType: 'text/css; charset=utf-8' },
] as const;

/**
 * Only the page's own script and style run; it draws with DOM calls (never HTML from data),
 * and the policy is a second fence should one ever slip in.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function statusPageRoutes(app: FastifyInstance): void {
  // Browsers ask for it on their own; no content rather than a 404 in the console.
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  for (const asset of ASSETS) {
    // Read once: the files ship with the server and never change while it runs.
    const body = readFileSync(new URL(`./status-page/${asset.file}`, import.meta.url), 'utf8');
    app.get(asset.path, async (_req, reply) =>
      reply
        .header('content-type', asset.contentType)
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
}
