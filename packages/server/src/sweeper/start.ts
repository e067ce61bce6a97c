/**
 * The fleet sweeper inside `serve`: passes in a loop, an interval apart (with jitter), sharing one
 * budget reservation pool across passes.
 */
import type { Backends } from '../types.js';
import {
  createSweepContext,
  runPass,
  type SweepLogger,
  type SweepOnceOptions,
  type SweepResult,
} from './sweep.js';

/** Options of {@link startFleetSweeper}; unset ones come from `backends.config.sweeper`. */
export interface FleetSweeperOptions {
  logger: SweepLogger;
  /** Time between the end of a pass and the start of the next (ms of the server's clock), ±10 %. */
  intervalMs?: number;
  /** Refreshes at once in this process. */
  concurrency?: number;
  /** Fleet-wide `oauth.v2.access` calls per minute, shared with every other instance. */
  budgetPerMinute?: number;
  /** Slack's token lifetime when a record doesn't tell (ms). Default 12 h. */
  tokenLifetimeMs?: number;
  /** See {@link SweepOnceOptions.throughputFactor}. */
  throughputFactor?: number;
  /** Called after each pass (metrics, tests). */
  onPass?: (result: SweepResult) => void;
}

/** A running fleet sweeper. */
export interface FleetSweeper {
  /** Stops: no new refresh starts; waits for the refreshes in flight. */
  stop(): Promise<void>;
}

/**
 * Starts sweeping at once, then every `intervalMs` (±10 % jitter, so instances started together
 * drift apart). A failed pass is logged and the next one runs as planned.
 * @throws ServerError `invalid_config` for invalid options.
 */
export function startFleetSweeper(backends: Backends, options: FleetSweeperOptions): FleetSweeper {
  const context = createSweepContext(backends, options);
  const intervalMs = options.intervalMs ?? backends.config.sweeper.intervalMs;
  const { logger } = options;
  const controller = new AbortController();

  async function loop(): Promise<void> {
    while (!controller.signal.aborted) {
      try {
        const result = await runPass(context, controller.signal);
        logger.debug({ ...result }, 'slack-rotator sweep done');
        options.onPass?.(result);
      } catch (error) {
        const code =
          error !== null && typeof error === 'object' && 'code' in error ? String(error.code) : 'unknown';
        logger.error(
          { code, message: error instanceof Error ? error.message : String(error) },
          'slack-rotator sweep failed',
        );
      }
      await context.wait(intervalMs * (0.9 + Math.random() * 0.2), controller.signal);
    }
  }

  const running = loop();
  return {
    async stop() {
      controller.abort();
      await running;
    },
  };
}
