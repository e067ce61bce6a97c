/**
 * Runs at most one task per key at a time; callers that arrive while it runs share its result.
 * Owned by one rotator instance (never module-global), so two rotators never share flights.
 */
export interface SingleFlight<T> {
  run(key: string, task: () => Promise<T>): Promise<T>;
  /** Settles when every task in flight has settled. */
  idle(): Promise<void>;
  readonly size: number;
}

export function createSingleFlight<T>(): SingleFlight<T> {
  const flights = new Map<string, Promise<T>>();
  return {
    run(key, task) {
      const running = flights.get(key);
      if (running !== undefined) return running;
      const flight = (async () => {
        try {
          return await task();
        } finally {
          flights.delete(key);
        }
      })();
      flights.set(key, flight);
      return flight;
    },
    async idle() {
      while (flights.size > 0) await Promise.allSettled([...flights.values()]);
    },
    get size() {
      return flights.size;
    },
  };
}
