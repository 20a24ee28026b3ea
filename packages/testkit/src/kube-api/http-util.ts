// Response and body helpers for node:http, with the request-log bookkeeping
// done in one place so no handler can forget it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestRecord } from './request-log.ts';
import type { StatusBody } from './types.ts';

/** One request in flight: what handlers need to read it and answer it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  record: RequestRecord;
  /** Set once the connection is gone (client abort, server stop) or the response is done. */
  closed: boolean;
}

export function sendJson(ex: Exchange, code: number, body: unknown): void {
  if (ex.res.headersSent || ex.res.destroyed) return;
  const text = JSON.stringify(body);
  ex.record.status = code;
  ex.res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : text);
}

export function sendStatus(ex: Exchange, status: StatusBody): void {
  sendJson(ex, status.code, status);
}

export function sendText(ex: Exchange, code: number, text: string): void {
  if (ex.res.headersSent || ex.res.destroyed) return;
  ex.record.status = code;
  ex.res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  ex.res.end(text);
}

const MAX_BODY = 8 * 1024 * 1024;

export type Body = { ok: true; value: unknown } | { ok: false; error: string };

/** Reads and parses a JSON body; an empty body is `undefined`, which several verbs accept. */
export async function readJsonBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) return { ok: false, error: 'request body too large' };
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `invalid JSON body: ${(err as Error).message}` };
  }
}
