/** The dashboard's memory of recent rotator events: a bounded ring buffer, newest last. */

/** One remembered event. Ids and codes only, never a token. */
export interface ActivityEntry {
  /** When it was seen (epoch ms, the server's clock). */
  at: number;
  /** As the broker spells it (`T…`, `E…`, or `<app id>:T…`). */
  installationId: string;
  /** `bot`, `user:U…` or `config:U…`. */
  chain: string;
  /** The rotator event's name. */
  kind: string;
  /** The outcome class (`refreshed`, `retry_later`, …) or the race's `how`. */
  outcome: string;
  /** The error code or Slack's error, when there is one. */
  code: string | undefined;
}

/** A ring buffer of the last `capacity` entries. */
export interface Activity {
  push(entry: ActivityEntry): void;
  /** The entries, newest first. */
  recent(limit?: number): ActivityEntry[];
  readonly size: number;
}

/** @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `capacity` is not a positive integer. */
export function createActivity(capacity = 200): Activity {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw Object.assign(new TypeError('[slack-rotator] activity capacity must be a positive integer'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const entries: ActivityEntry[] = [];
  let next = 0;
  return {
    push(entry) {
      if (entries.length < capacity) entries.push(entry);
      else entries[next] = entry;
      next = (next + 1) % capacity;
    },
    recent(limit = capacity) {
      const ordered =
        entries.length < capacity ? [...entries] : [...entries.slice(next), ...entries.slice(0, next)];
      return ordered.reverse().slice(0, limit);
    },
    get size() {
      return entries.length;
    },
  };
}
