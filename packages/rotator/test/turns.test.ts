// I/O starts a few milliseconds' worth per event-loop turn (slack/turns.ts): a burst asked for in
// one run of microtasks must not hold the loop for the whole burst, and a lone call starts at once.
import { describe, expect, test } from 'vitest';
import { inTurn, SLICE_MS, STALE_MS, staleOperations, WINDOW } from '../src/turns.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Lets turns run until `done()` holds (at most 200 turns). */
async function turnsUntil(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 200 && !done(); turn++) await nextTurn();
}

/** Keeps the CPU busy for `ms`, as starting a request does on a busy machine. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('inTurn', () => {
  test('queued starts go by stage, new then hold, each in the order asked; finish starts never wait', async () => {
    await nextTurn();
    const order: string[] = [];
    const calls: Promise<unknown>[] = [];
    // Use up the turn, so that everything after is queued.
    calls.push(inTurn(async () => busy(SLICE_MS + 1)));
    for (const [name, stage] of [
      ['new 1', 'new'],
      ['hold 1', 'hold'],
      ['finish 1', 'finish'],
      ['new 2', 'new'],
      ['finish 2', 'finish'],
      ['hold 2', 'hold'],
    ] as const) {
      calls.push(
        inTurn(async () => {
          order.push(name);
        }, stage),
      );
    }
    expect(order, 'finish starts ran at once, though the turn was used up').toEqual(['finish 1', 'finish 2']);
    await Promise.all(calls);
    expect(order).toEqual(['finish 1', 'finish 2', 'new 1', 'new 2', 'hold 1', 'hold 2']);
  });

  test('at most WINDOW new and hold operations are in flight; finish and long starts do not wait for it', async () => {
    await nextTurn();
    const answers: (() => void)[] = [];
    const started: string[] = [];
    const operation = (name: string, stage: 'new' | 'hold' | 'finish' | 'long') =>
      inTurn(() => {
        started.push(name);
        return new Promise<void>((resolve) => answers.push(resolve));
      }, stage);
    const count = WINDOW + 20;
    const calls = Array.from({ length: count }, (_, i) => operation(`op ${i}`, i % 2 === 0 ? 'new' : 'hold'));
    await turnsUntil(() => started.length >= WINDOW);
    // Some turns more: nothing else starts while the window is full.
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    expect(started.length).toBe(WINDOW);

    const finish = operation('finish', 'finish');
    expect(started.at(-1), 'a finish start runs at once').toBe('finish');
    const long = operation('long', 'long');
    await turnsUntil(() => started.includes('long'));
    expect(started.at(-1), 'a long start is paced by turns, not by the window').toBe('long');

    // One answer frees one place.
    answers[0]?.();
    await turnsUntil(() => started.length > WINDOW + 2);
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    expect(started.length).toBe(WINDOW + 3);
    expect(started.at(-1)).toBe(`op ${WINDOW}`);

    // Answer everything as it starts: the rest go through, new before hold, each in the order asked.
    const answerAll = setInterval(() => {
      for (const answer of answers.splice(0)) answer();
    }, 1);
    try {
      await Promise.all([...calls, finish, long]);
    } finally {
      clearInterval(answerAll);
    }
    const queued = Array.from({ length: count - WINDOW }, (_, i) => WINDOW + i);
    expect(started.filter((name) => name.startsWith('op '))).toEqual([
      ...Array.from({ length: WINDOW }, (_, i) => `op ${i}`),
      ...queued.filter((i) => i % 2 === 0).map((i) => `op ${i}`),
      ...queued.filter((i) => i % 2 === 1).map((i) => `op ${i}`),
    ]);
  });

  test('an operation left unanswered for STALE_MS stops counting: a stalled store does not hold up the rest', async () => {
    await nextTurn();
    // A full window that never answers.
    const staleBefore = staleOperations();
    const stalled = Array.from({ length: WINDOW }, () => inTurn(() => new Promise<void>(() => {}), 'hold'));
    expect(stalled).toHaveLength(WINDOW);
    const startedAt = performance.now();
    let ranAt: number | undefined;
    await inTurn(async () => {
      ranAt = performance.now();
    }, 'new');
    expect(ranAt).toBeDefined();
    expect((ranAt ?? 0) - startedAt).toBeGreaterThanOrEqual(STALE_MS - 5);
    // Counted as they turned stale: those whose turn to start came first (all, unless a loaded
    // machine spread the stalled starts over several turns; the window had room once one went).
    const turnedStale = staleOperations() - staleBefore;
    expect(turnedStale).toBeGreaterThanOrEqual(1);
    expect(turnedStale).toBeLessThanOrEqual(WINDOW);
    // The stalled ones no longer count: the next starts at once.
    let next = false;
    const after = inTurn(async () => {
      next = true;
    }, 'new');
    await turnsUntil(() => next);
    expect(next).toBe(true);
    await after;
  });

  test('a lone start runs at once, in the caller’s turn', async () => {
    await nextTurn();
    let ran = false;
    const result = inTurn(async () => {
      ran = true;
      return 'done';
    });
    expect(ran).toBe(true);
    await expect(result).resolves.toBe('done');
  });

  test('a burst is cut into turns: a callback asked for after it runs before the burst ends', async () => {
    await nextTurn();
    const order: string[] = [];
    const count = 20;
    const starts = Array.from({ length: count }, (_, i) =>
      inTurn(async () => {
        busy(SLICE_MS / 2);
        order.push(`start ${i}`);
        return i;
      }),
    );
    const ranAtOnce = order.length;
    // Asked for after the burst: if the whole burst ran in one turn it would come after all of it.
    setImmediate(() => order.push('another callback'));
    expect(await Promise.all(starts)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(ranAtOnce, 'starts run at once before the turn was used up').toBeGreaterThan(0);
    expect(ranAtOnce).toBeLessThan(count);
    expect(order.indexOf('another callback'), order.join(', ')).toBeLessThan(
      order.indexOf(`start ${count - 1}`),
    );
    expect(order.filter((entry) => entry.startsWith('start'))).toEqual(
      Array.from({ length: count }, (_, i) => `start ${i}`),
    );
  });

  test('a start that throws or rejects fails its own call only, queued or not', async () => {
    await nextTurn();
    const calls = [
      inTurn((): Promise<number> => {
        throw new Error('thrown synchronously');
      }),
      inTurn(() => Promise.reject(new Error('rejected'))),
      inTurn(async () => {
        busy(SLICE_MS + 1);
        return 'slow';
      }),
      // Queued behind the slow one: the turn was used up.
      inTurn((): Promise<number> => {
        throw new Error('thrown in a later turn');
      }),
      inTurn(async () => 'fine'),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      'thrown synchronously',
      'rejected',
      'slow',
      'thrown in a later turn',
      'fine',
    ]);
  });
});
