/** `GET /healthz` (the process answers) and `GET /readyz` (the store, lock and state answer). */
import type { FastifyInstance } from 'fastify';
import { toServerError } from '../errors.js';
import type { BrokerContext } from './context.js';

export function registerHealthRoutes(app: FastifyInstance, context: BrokerContext): void {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async () => {
    try {
      await context.backends.ping();
    } catch (error) {
      throw toServerError(error);
    }
    return { ok: true };
  });
}
