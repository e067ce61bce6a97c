import { invalidArgument } from './errors.js';
import { describeError } from './events.js';
import type { Logger } from './logger.js';
import type { Sweeper, SweeperOptions, SweepOptions, SweepResult } from './rotator.js';
import type { TokenRecord, TokenStore } from './store/types.js';

interface SweepDeps {
  store: TokenStore;
  clientId: string;
  now: () => number;
  logger: Logger;
  defaultWithinMs: number;
  isDue: (record: TokenRecord) => boolean;
  /** Refreshes one chain (through the rotator's single-flight); resolves to the record to serve. */
  refresh: (record: TokenRecord) => Promise<TokenRecord>;
  isClosed: () => boolean;
}

/** The sweep pass and the sweeper loop, so quiet workspaces rotate too. */
export function createSweeping(deps: SweepDeps) {
  const { store, clientId, now, logger } = deps;
  const sweepers = new Set<Sweeper>();

  async function sweep(options: SweepOptions = {}): Promise<SweepResult> {
    const withinMs = options.withinMs ?? deps.defaultWithinMs;
    const concurrency = options.concurrency ?? 4;
    if (typeof withinMs !== 'number' || !(withinMs >= 0)) {
      throw invalidArgument('withinMs must be a non-negative number of milliseconds');
    }
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw invalidArgument('concurrency must be a positive integer');
    }
    const result: SweepResult = { checked: 0, refreshed: 0, failed: 0 };
    let cursor: string | undefined;
    do {
      const page = await store.list({
        clientId,
        status: 'active',
        expiresBefore: now() + withinMs,
        limit: 100,
        ...(cursor === undefined ? {} : { cursor }),
      });
      cursor = page.cursor;
      result.checked += page.records.length;
      const due = page.records.filter(deps.isDue);
      let next = 0;
      const worker = async () => {
        while (next < due.length && !deps.isClosed()) {
          const record = due[next++] as TokenRecord;
          try {
            const after = await deps.refresh(record);
            if (after.version !== record.version) result.refreshed++;
          } catch (error) {
            result.failed++;
            logger.warn(
              { chainKey: record.chainKey, err: describeError(error) },
              'slack-rotator sweep: refresh failed',
            );
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    } while (cursor !== undefined && !deps.isClosed());
    return result;
  }

  function startSweeper(options: SweeperOptions = {}): Sweeper {
    const intervalMs = options.intervalMs ?? 60_000;
    if (typeof intervalMs !== 'number' || !(intervalMs > 0)) {
      throw invalidArgument('intervalMs must be a positive number of milliseconds');
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<unknown> = Promise.resolve();
    const schedule = () => {
      if (stopped || deps.isClosed()) return;
      // ±10 % jitter, so sweepers started together on many instances drift apart.
      const delay = intervalMs * (0.9 + Math.random() * 0.2);
      timer = setTimeout(() => {
        running = sweep(options)
          .then((result) => logger.debug({ ...result }, 'slack-rotator sweep done'))
          .catch((error: unknown) =>
            logger.error({ err: describeError(error) }, 'slack-rotator sweep failed'),
          )
          .finally(schedule);
      }, delay);
      timer.unref?.();
    };
    const sweeper: Sweeper = {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        sweepers.delete(sweeper);
        await running;
      },
    };
    sweepers.add(sweeper);
    schedule();
    return sweeper;
  }

  async function stopSweepers(): Promise<void> {
    await Promise.all([...sweepers].map((s) => s.stop()));
  }

  return { sweep, startSweeper, stopSweepers };
}
