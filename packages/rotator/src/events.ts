import type { ChainKind } from './chain.js';
import type { RotatorError } from './errors.js';
import type { Logger } from './logger.js';

/** Where a chain sits, without any token. */
export interface ChainRef {
  chainKey: string;
  installationId: string;
  teamId: string | null;
  enterpriseId: string | null;
  kind: ChainKind;
  userId: string | null;
}

/** The events a rotator emits, by name. Listeners never receive a token. */
export interface RotatorEvents {
  /** A chain was refreshed and its new pair stored. */
  refreshed: ChainRef & { version: number; expiresAt: number; attempts: number; durationMs: number };
  /**
   * A refresh failed; `error.code` says why and its class what to do (a `StorageError` or
   * `LockTimeoutError` that ends a refresh of a chain already read is announced too).
   */
  'refresh-failed': ChainRef & { error: RotatorError };
  /** Slack refused the chain: the installation must go through the install flow again. */
  reauthorization_required: ChainRef & {
    slackError: string;
    /** `'lost_rotation'` when Slack rotated the chain and its answer was lost; else Slack's error. */
    cause: string;
  };
  /**
   * This refresh took the chain's refresh lock, after `waitedMs` (by the rotator's clock) spent
   * waiting for a peer that held it (0 when it was free).
   */
  'lock-acquired': ChainRef & { waitedMs: number };
  /**
   * While this refresh waited `waitedMs` for the lock, the peer holding it refreshed the chain; its
   * pair is served and this caller calls Slack for nothing.
   */
  'peer-refreshed': ChainRef & { waitedMs: number };
  /**
   * A conditional write lost to a concurrent writer (the stored version moved on): storing a new
   * pair (`commit`), keeping a sibling refresh token (`sibling`), marking the chain dead (`mark`) or
   * writing the refresh intent (`intent`). The engine then re-reads; see `race-recovered`.
   */
  'cas-conflict': ChainRef & { operation: 'commit' | 'sibling' | 'mark' | 'intent' };
  /**
   * Two refreshes of one chain raced (they got past the lock) and the chain was saved:
   * `adopted_winner`, this refresh lost the compare-and-set and serves the winner's pair (its own
   * pair kept as the sibling); `peer_rotated`, Slack refused this refresh or its lease ran out, but
   * a peer had stored a new pair meanwhile; `sibling_fallback`, the stored refresh token was refused
   * and the sibling kept from an earlier race refreshed the chain.
   */
  'race-recovered': ChainRef & { how: 'adopted_winner' | 'peer_rotated' | 'sibling_fallback' };
}

export type RotatorEventName = keyof RotatorEvents;
export type Listener<E extends RotatorEventName> = (event: RotatorEvents[E]) => void;

export interface Emitter {
  on<E extends RotatorEventName>(name: E, listener: Listener<E>): () => void;
  off<E extends RotatorEventName>(name: E, listener: Listener<E>): void;
  emit<E extends RotatorEventName>(name: E, event: RotatorEvents[E]): void;
  /** True when `name` has a listener: an event sent on every call is built only then. */
  listens(name: RotatorEventName): boolean;
}

/** A tiny typed emitter. A listener that throws is logged and does not stop the others. */
export function createEmitter(logger: Logger): Emitter {
  const listeners = new Map<RotatorEventName, Set<(event: never) => void>>();
  const emitter: Emitter = {
    on(name, listener) {
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(listener as (event: never) => void);
      return () => emitter.off(name, listener);
    },
    off(name, listener) {
      listeners.get(name)?.delete(listener as (event: never) => void);
    },
    listens: (name) => (listeners.get(name)?.size ?? 0) > 0,
    emit(name, event) {
      for (const listener of listeners.get(name) ?? []) {
        try {
          (listener as (event: unknown) => void)(event);
        } catch (error) {
          logger.error({ event: name, err: describeError(error) }, 'slack-rotator event listener threw');
        }
      }
    },
  };
  return emitter;
}

/** A loggable summary of an error: name, code and message only (messages never hold tokens). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, code: (error as { code?: unknown }).code };
  }
  return { message: String(error) };
}
