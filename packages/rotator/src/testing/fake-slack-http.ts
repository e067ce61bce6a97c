/** The HTTP plumbing of the fake Slack: parsing calls, writing answers. */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SlackAnswer } from './fake-slack-chain.js';
import type { PlannedFault } from './fake-slack-faults.js';
import type { Outcome } from './fake-slack-types.js';

const MAX_BODY_BYTES = 1 << 20;

/** One parsed call. */
export interface Call {
  method: string;
  params: Record<string, string>;
  basic: { id: string; secret: string } | undefined;
  bearer: string | undefined;
}

/** What a method answers. */
export interface Answer {
  status: number;
  body: SlackAnswer;
  chainId: string | undefined;
}

/** The answer for a state outcome. */
export function answerOf<T extends object>(outcome: Outcome<T>): Answer {
  if (!outcome.ok)
    return { status: 200, body: { ok: false, error: outcome.error }, chainId: outcome.chainId };
  return { status: 200, body: { ok: true, ...outcome.body }, chainId: outcome.chainId };
}

/** An `ok: false` answer. */
export function fail(error: string, chainId?: string, status = 200): Answer {
  return { status, body: { ok: false, error }, chainId };
}

/** Client credentials from an HTTP Basic `Authorization` header. */
export function parseBasic(header: string | undefined): Call['basic'] {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { id: decoded, secret: '' };
  const formDecode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/** Query and body arguments (form or JSON); `undefined` when the JSON is invalid. */
export function parseParams(
  url: URL,
  contentType: string | undefined,
  raw: string,
): Record<string, string> | undefined {
  const params: Record<string, string> = Object.fromEntries(url.searchParams);
  if (raw === '') return params;
  if (/^application\/json/i.test(contentType ?? '')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    for (const [key, value] of Object.entries(parsed)) {
      if (value !== undefined && value !== null)
        params[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(raw)) params[key] = value;
  return params;
}

/** The request body as text; `undefined` when it is too large. */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Answers JSON. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: SlackAnswer,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Answers an HTML error page. */
export function sendHtml(res: ServerResponse, status: number, title: string) {
  const text = `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Destroys the connection without an answer (with a TCP reset where Node offers one). */
export function drop(req: IncomingMessage) {
  const socket = req.socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Answers with a fault instead of the method's answer (for the `rotate_then_*` kinds, the call was
 * processed first); returns the HTTP status answered, 0 when the connection was destroyed.
 */
export function answerFault(req: IncomingMessage, res: ServerResponse, fault: PlannedFault): number {
  switch (fault.kind) {
    case 'connection_reset':
    case 'rotate_then_drop':
      drop(req);
      return 0;
    case 'rate_limited':
      sendJson(
        res,
        429,
        { ok: false, error: 'ratelimited' },
        { 'retry-after': String(fault.retryAfterSeconds) },
      );
      return 429;
    case 'internal_error':
      sendJson(res, 200, { ok: false, error: 'internal_error' });
      return 200;
    case 'html':
      sendHtml(res, 200, '502 Bad Gateway');
      return 200;
    default:
      sendHtml(res, 500, '500 Internal Server Error');
      return 500;
  }
}
