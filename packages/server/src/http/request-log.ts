/**
 * Request logs of the broker: one line per request when it completes (method, path without the
 * query string, status, time). Successful reads (`GET` below 400: token requests, health, metrics)
 * are logged at `debug` — at thousands of token requests per second an info line each would cost
 * more than the request itself (see docs/BENCHMARKS.md) — everything else at `info`. No header
 * and no query string is ever logged: they carry API keys, OAuth codes and states.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** Only the path: query strings may carry an OAuth code or state. */
export function pathOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}

/** pino serializers for the `req` and `res` fields of request lines. */
export const requestSerializers = {
  req: (request: { method: string; url: string; ip?: string }) => ({
    method: request.method,
    path: pathOf(request.url),
    remoteAddress: request.ip,
  }),
  res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
};

/** Fastify's extension point for its own request lines is this class; nothing else is a class here. */
export class BrokerLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) {
      reply.log.warn(
        { ...line, err: { name: error.name, code: (error as { code?: unknown }).code } },
        'request errored',
      );
    } else if (request.method === 'GET' && reply.statusCode < 400) {
      reply.log.debug(line, 'request completed');
    } else {
      reply.log.info(line, 'request completed');
    }
  }
}
