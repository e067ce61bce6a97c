/**
 * The fleet-wide budget for `oauth.v2.access` calls: slots reserved a few at a time from the
 * server state's shared GCRA (`reserveSlots`), so every instance draws from one budget.
 */
import type { ServerState } from '../types.js';

/** The rate limit's name in the server state. */
export const BUDGET_NAME = 'oauth.v2.access';

/**
 * The share of the budget left unused. A slot is the instant a refresh may start; Slack counts the
 * call when it arrives, a few round trips (lock, reads, intent) later. Those delays vary, so calls
 * bunch a little; 5 % of a minute's slots absorbs that, so Slack never sees more than the budget.
 */
export const BUDGET_HEADROOM = 0.05;

/**
 * How late a slot may still be used (ms of the clock): half the headroom's share of a minute. A
 * call that late moves at most `budget × 0.025` calls into the next minute, which the other half of
 * the headroom (for the round trips before the call) still covers. A later slot is dropped.
 */
export const LATE_TOLERANCE_MS = (BUDGET_HEADROOM / 2) * 60_000;

/** Options of {@link createBudget}. */
export interface BudgetOptions {
  state: Pick<ServerState, 'reserveSlots'>;
  /** Calls per minute for the whole fleet. */
  budgetPerMinute: number;
  /** Slots reserved per round trip to the state (default 4). */
  batch?: number;
  now: () => number;
  /** Waits `ms` of the clock's time; resolves early (to `false`) when aborted. */
  wait: (ms: number, signal: AbortSignal | undefined) => Promise<boolean>;
}

/** A source of budget slots. */
export interface Budget {
  /** Time between two slots (ms of the clock), after the headroom. */
  readonly slotMs: number;
  /**
   * Waits until this caller's slot starts. Resolves `true` then, or `false` if `signal` aborted
   * the wait (the slot is spent either way).
   */
  take(signal?: AbortSignal): Promise<boolean>;
}

/** Creates a budget drawing on the shared state. */
export function createBudget(options: BudgetOptions): Budget {
  const { state, now, wait } = options;
  const batch = options.batch ?? 4;
  const slotMs = 60_000 / (options.budgetPerMinute * (1 - BUDGET_HEADROOM));
  const late = Math.max(slotMs, LATE_TOLERANCE_MS);
  const slots: number[] = [];
  let reserving: Promise<void> | undefined;

  function refill(): Promise<void> {
    reserving ??= state
      .reserveSlots(BUDGET_NAME, batch, slotMs, now())
      .then((start) => {
        for (let i = 0; i < batch; i++) slots.push(start + i * slotMs);
      })
      .finally(() => {
        reserving = undefined;
      });
    return reserving;
  }

  async function take(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const slot = slots.shift();
      if (slot === undefined) {
        await refill();
        continue;
      }
      // A slot well in the past (left over from a pass that ended, or a worker that woke late after
      // a pause) would add a call next to the ones on time: drop it.
      if (now() - slot > late) continue;
      const ahead = slot - now();
      if (ahead > 0 && !(await wait(ahead, signal))) return false;
      if (now() - slot > late) continue;
      return true;
    }
  }

  return { slotMs, take };
}
