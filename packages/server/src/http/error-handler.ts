/**
 * Every error the broker answers is `{ error: { code, message } }` with the status of its
 * {@link ServerError} code: validation failures, unknown routes, oversized bodies and library errors
 * alike. Messages are fixed or built from field names, never from the request's content (a JSON
 * syntax error quotes the body, which may hold a token).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ServerError, toServerError } from '../errors.js';

/** The JSON body of an error answer. */
export interface ErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

/** Sends `error` as the broker's JSON error body. */
export function sendError(reply: FastifyReply, error: ServerError): FastifyReply {
  const body: ErrorBody = { error: { code: error.code, message: error.message, ...error.details } };
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

/** The field a schema validation error names, as the client spelled it (`body.token`, `query.chain`). */
function fieldOf(error: FastifyError): string {
  const first = error.validation?.[0];
  const context = error.validationContext ?? 'request';
  const where = context === 'querystring' ? 'query' : context;
  if (first === undefined) return where;
  const params = first.params as { missingProperty?: string; additionalProperty?: string };
  const path = first.instancePath
    .split('/')
    .filter((part) => part !== '')
    .join('.');
  const name = params.missingProperty ?? params.additionalProperty;
  return [where, path, name].filter((part) => part !== undefined && part !== '').join('.');
}

function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  const field = fieldOf(error);
  // Schemas state what a field must be in their description (ajv runs with `verbose`).
  const description = (first as { parentSchema?: { description?: unknown } } | undefined)?.parentSchema
    ?.description;
  if (
    typeof description === 'string' &&
    first?.keyword !== 'required' &&
    first?.keyword !== 'additionalProperties'
  ) {
    return `${field} ${description}`;
  }
  switch (first?.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'type':
      return `${field} must be ${(first.params as { type?: string }).type ?? 'of another type'}`;
    case 'pattern':
    case 'format':
      return `${field} is malformed`;
    default:
      // Ajv's messages name limits and types only ("must be >= 0"), never the value.
      return `${field} ${first?.message ?? 'is invalid'}`;
  }
}

/** Maps an error thrown by Fastify or a route to a `ServerError` the client may see. */
export function toHttpError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    return new ServerError('invalid_request', describeValidation(fastifyError as FastifyError));
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServerError('invalid_request', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServerError(
        'invalid_request',
        'the request body must be JSON (content-type: application/json)',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ServerError('invalid_request', 'the JSON request body is empty');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ServerError('invalid_request', 'the request body does not match its content-length');
  }
  if (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ServerError('invalid_request', 'the request body is not valid JSON');
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ServerError('invalid_request', 'the request is malformed');
  }
  return toServerError(error);
}

/** Fastify's error handler: maps, logs server-side failures (without tokens), and answers. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toHttpError(error);
  if (mapped.status >= 500) {
    const cause = mapped.cause ?? error;
    request.log.warn(
      {
        code: mapped.code,
        err: {
          name: (cause as Error)?.name,
          code: (cause as { code?: unknown })?.code,
          message: (cause as Error)?.message,
        },
      },
      'request failed',
    );
  }
  return sendError(reply, mapped);
}

/** The answer for an unknown route or method. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?', 1)[0];
  return sendError(reply, new ServerError('not_found', `no route ${request.method} ${path}`));
}
