// Slack requests start one per event-loop turn (slack/turns.ts): a burst of refreshes asked for in
// one run of microtasks must not hold the loop for the whole burst.
import { describe, expect, test } from 'vitest';
import { inTurn } from '../src/slack/turns.js';

describe('inTurn', () => {
  test('starts in the order asked, one per turn, and lets I/O callbacks run between starts', async () => {
    const order: string[] = [];
    const starts = Array.from({ length: 20 }, (_, i) =>
      inTurn(async () => {
        order.push(`start ${i}`);
        return i;
      }),
    );
    // Asked for after the 20 starts: with every start in one turn it would run after all of them.
    setImmediate(() => order.push('another callback'));
    expect(await Promise.all(starts)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(order.indexOf('another callback')).toBeGreaterThan(-1);
    expect(order.indexOf('another callback'), order.join(', ')).toBeLessThan(order.indexOf('start 1'));
    expect(order.filter((entry) => entry.startsWith('start'))).toEqual(
      Array.from({ length: 20 }, (_, i) => `start ${i}`),
    );
  });

  test('a start that throws or rejects fails its own call only', async () => {
    const thrown = inTurn((): Promise<number> => {
      throw new Error('thrown synchronously');
    });
    const rejected = inTurn(() => Promise.reject(new Error('rejected')));
    const fine = inTurn(async () => 'fine');
    await expect(thrown).rejects.toThrow('thrown synchronously');
    await expect(rejected).rejects.toThrow('rejected');
    await expect(fine).resolves.toBe('fine');
  });

  test('a start asked for from inside a start runs after the ones already queued', async () => {
    const order: number[] = [];
    let inner: Promise<void> | undefined;
    const first = inTurn(async () => {
      order.push(1);
      inner = inTurn(async () => {
        order.push(3);
      });
    });
    const second = inTurn(async () => {
      order.push(2);
    });
    await Promise.all([first, second]);
    await inner;
    expect(order).toEqual([1, 2, 3]);
  });
});
