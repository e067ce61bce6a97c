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
  /** A refresh failed; `error.code` says why and its class what to do. */
  'refresh-failed': ChainRef & { error: RotatorError };
  /** Slack refused the chain: the installation must go through the install flow again. */
  reauthorization_required: ChainRef & {
    slackError: string;
    /** `'lost_rotation'` when Slack rotated the chain and its answer was lost; else Slack's error. */
    cause: string;
  };
}

export type RotatorEventName = keyof RotatorEvents;
export type Listener<E extends RotatorEventName> = (event: RotatorEvents[E]) => void;

export interface Emitter {
  on<E extends RotatorEventName>(name: E, listener: Listener<E>): () => void;
  off<E extends RotatorEventName>(name: E, listener: Listener<E>): void;
  emit<E extends RotatorEventName>(name: E, event: RotatorEvents[E]): void;
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
