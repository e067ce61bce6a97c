/** The dashboard's chart of upcoming expiries: an inline SVG rendered on the server. */
import { countBetween } from './chain-snapshot.js';
import { escapeHtml } from './html.js';

export interface ExpiryBins {
  /** Start of the first bin (epoch ms). */
  from: number;
  binMs: number;
  counts: number[];
  /** Active chains already expired at `from`. */
  overdue: number;
}

/** Counts active expiries in `bins` consecutive bins of `binMs` from `from` (default: 24 half hours). */
export function binExpiries(
  expiries: Float64Array,
  from: number,
  bins = 24,
  binMs = 30 * 60_000,
): ExpiryBins {
  const counts: number[] = [];
  for (let i = 0; i < bins; i++)
    counts.push(countBetween(expiries, from + i * binMs, from + (i + 1) * binMs));
  return { from, binMs, counts, overdue: countBetween(expiries, Number.NEGATIVE_INFINITY, from) };
}

const WIDTH = 720;
const HEIGHT = 180;
const TOP = 16;
const BOTTOM = 24;
const LEFT = 36;

/** An accessible SVG bar chart of the bins; each bar is a `rect.bar` with a `<title>`. */
export function renderExpiryChart(bins: ExpiryBins): string {
  const max = Math.max(1, ...bins.counts);
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = (WIDTH - LEFT) / bins.counts.length;
  const hours = (bins.binMs * bins.counts.length) / 3_600_000;
  const parts: string[] = [];
  parts.push(
    `<line x1="${LEFT}" y1="${TOP + plotHeight}" x2="${WIDTH}" y2="${TOP + plotHeight}" class="axis"/>`,
    `<text x="${LEFT - 6}" y="${TOP + 4}" class="tick" text-anchor="end">${max}</text>`,
    `<text x="${LEFT - 6}" y="${TOP + plotHeight}" class="tick" text-anchor="end">0</text>`,
  );
  bins.counts.forEach((count, i) => {
    const height = count === 0 ? 0 : Math.max(2, (count / max) * plotHeight);
    const x = LEFT + i * slot + 1;
    const startMin = (i * bins.binMs) / 60_000;
    const label = `+${formatOffset(startMin)} to +${formatOffset(startMin + bins.binMs / 60_000)}: ${count} chain${count === 1 ? '' : 's'}`;
    parts.push(
      `<rect class="bar" data-count="${count}" x="${x.toFixed(1)}" y="${(TOP + plotHeight - height).toFixed(1)}" width="${(slot - 2).toFixed(1)}" height="${height.toFixed(1)}"><title>${escapeHtml(label)}</title></rect>`,
    );
    const everyBins = Math.max(1, Math.round((3_600_000 * 2) / bins.binMs));
    if (i % everyBins === 0) {
      parts.push(
        `<text x="${(LEFT + i * slot).toFixed(1)}" y="${HEIGHT - 6}" class="tick">+${formatOffset(startMin)}</text>`,
      );
    }
  });
  return `<svg class="chart" role="img" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" aria-label="Active chains expiring in each ${bins.binMs / 60_000}-minute slot of the next ${hours} hours">${parts.join('')}</svg>`;
}

function formatOffset(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h}h` : `${h}h${String(m).padStart(2, '0')}`;
}
