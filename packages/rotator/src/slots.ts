/**
 * At most `size` holders at once; the rest wait first-in first-out. `take` resolves when the caller
 * holds a slot; each `take` is paired with one `give`.
 */
export function createSlots(size: number): { take(): Promise<void>; give(): void } {
  let free = size;
  const waiting: (() => void)[] = [];
  let head = 0;
  return {
    take(): Promise<void> {
      if (free > 0 && head === waiting.length) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    give(): void {
      if (head < waiting.length) {
        const next = waiting[head];
        waiting[head++] = () => {};
        if (head === waiting.length) {
          waiting.length = 0;
          head = 0;
        }
        next?.();
        return;
      }
      free++;
    },
  };
}
