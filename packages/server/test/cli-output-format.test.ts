import { describe, expect, it } from 'vitest';
import { redact } from '../src/commands/report-error.js';
import { createProgress } from '../src/progress.js';
import { formatDuration, formatTable, formatTimeToExpiry } from '../src/table.js';

function sink(isTTY: boolean) {
  let text = '';
  return {
    isTTY,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

describe('CLI output: progress, tables, durations, redaction', () => {
  it('without a terminal, progress is one line per 10 %', () => {
    const out = sink(false);
    const progress = createProgress({ label: 'chains', stream: out });
    for (let done = 1; done <= 200; done++) progress.update(done, 200);
    progress.stop();
    const lines = out.text.trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('chains: 20/200 (10 %)');
    expect(lines.at(-1)).toBe('chains: 200/200 (100 %)');
  });

  it('on a terminal, progress is a bar that ends at the total', () => {
    const out = sink(true);
    const progress = createProgress({ label: 'tokens', total: 4, stream: out, tty: true });
    for (let done = 1; done <= 4; done++) progress.update(done);
    progress.stop();
    expect(out.text).toContain('tokens [');
    expect(out.text).toContain('4/4');
    expect(out.text).toContain('100%');
  });

  it('durations read like an operator writes them', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(formatTimeToExpiry(now + (11 * 3600 + 58 * 60 + 30) * 1000, now)).toBe('11h 58m');
    expect(formatTimeToExpiry(now - 3 * 60_000, now)).toBe('expired 3m 0s ago');
    expect(formatDuration(2 * 86_400_000 + 4 * 3_600_000)).toBe('2d 4h');
    expect(formatDuration(42_000)).toBe('42s');
  });

  it('tables align columns and end each row without trailing spaces', () => {
    expect(
      formatTable(
        ['ID', 'CHAIN'],
        [
          ['T0123', 'bot'],
          ['E1', 'user:U1'],
        ],
      ),
    ).toBe('ID     CHAIN\nT0123  bot\nE1     user:U1\n');
  });

  it('token-shaped words and URL passwords are masked', () => {
    expect(redact('bad xoxb-123-abc and xoxe.xoxp-1-zz and srk_AbC_d-e')).toBe(
      'bad [redacted] and [redacted] and [redacted]',
    );
    expect(redact('postgres://user:pa55@db:5432/x')).toBe('postgres://user:[redacted]@db:5432/x');
    expect(redact('expected xoxb-… or user:U…:xoxp-…')).toBe('expected xoxb-… or user:U…:xoxp-…');
  });
});
