/** `GET /metrics` (Prometheus text) and `GET /` (the dashboard); neither needs an API key. */
import type { FastifyInstance } from 'fastify';
import { toServerError } from '../errors.js';
import { renderDashboard } from './dashboard.js';
import type { Observability, ObservedBackends } from './observability.js';

/** Registers the routes on `app`. `backends` is accepted for symmetry with the other route groups. */
export function registerObservabilityRoutes(
  app: FastifyInstance,
  obs: Observability,
  _backends?: ObservedBackends,
  options: { reloadSeconds?: number } = {},
): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await obs.registry.metrics();
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(text);
  });

  app.get('/', async (_request, reply) => {
    let snapshot: Awaited<ReturnType<Observability['snapshot']>> | undefined;
    let storeError: string | undefined;
    try {
      snapshot = await obs.snapshot();
    } catch (error) {
      const failure = toServerError(error);
      storeError = `${failure.code}: ${failure.message}`;
    }
    const html = renderDashboard({
      now: obs.now(),
      snapshot,
      storeError,
      activity: obs.activity.recent(50),
      reloadSeconds: options.reloadSeconds ?? 5,
    });
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
      .send(html);
  });
}
