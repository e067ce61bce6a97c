import { Fifo } from './fifo.js';

/**
 * At most `size` holders at once; the rest wait first-in first-out. `take` resolves when the caller
 * holds a slot; each `take` is paired with one `give`.
 */
export function createSlots(size: number): { take(): Promise<void>; give(): void } {
  let free = size;
  const waiting = new Fifo<() => void>();
  return {
    take(): Promise<void> {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    give(): void {
      const next = waiting.shift();
      if (next === undefined) free++;
      else next();
    },
  };
}
