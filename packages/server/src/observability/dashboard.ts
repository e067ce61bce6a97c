/**
 * The dashboard page: server-rendered HTML with inline CSS and an inline SVG chart, no script and no
 * external asset. Every value is HTML-escaped; no token ever reaches it (views carry none).
 */
import type { ActivityEntry } from './activity.js';
import type { ChainSnapshot, ChainView } from './chain-snapshot.js';
import { binExpiries, renderExpiryChart } from './expiry-chart.js';
import { escapeHtml as e, formatDuration } from './html.js';

export interface DashboardModel {
  now: number;
  /** `undefined` when the store could not be read (`storeError` says why). */
  snapshot: ChainSnapshot | undefined;
  storeError: string | undefined;
  activity: ActivityEntry[];
  /** Seconds between automatic reloads; 0 for none. */
  reloadSeconds: number;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d1f23}
header{background:#1d1f23;color:#fff;padding:12px 24px}header h1{margin:0;font-size:18px}
main{padding:16px 24px;max-width:1100px}section{background:#fff;border:1px solid #dde0e5;border-radius:6px;padding:12px 16px;margin-bottom:16px}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
th{font-weight:600;color:#555}code{font:12px ui-monospace,monospace}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}.tile{flex:1;min-width:140px;background:#fff;border:1px solid #dde0e5;border-radius:6px;padding:8px 12px}
.tile b{display:block;font-size:22px}.status{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px}
.status-active{background:#e3f6e8;color:#17692f}.status-reauthorization_required{background:#fde5e5;color:#9b1c1c}.status-revoked{background:#eceef1;color:#555}
.chain{display:inline-block;margin:0 10px 2px 0;white-space:nowrap}.error{background:#fde5e5;border-color:#f3b4b4}
.chart .bar{fill:#3b6fd8}.chart .axis{stroke:#999}.chart .tick{font-size:10px;fill:#666}.muted{color:#777}
`;

function status(s: string): string {
  return `<span class="status status-${e(s)}">${e(s === 'reauthorization_required' ? 're-authorize' : s)}</span>`;
}

function expiresIn(chain: ChainView, now: number): string {
  return chain.status === 'active' ? e(formatDuration(chain.expiresAt - now)) : '—';
}

function time(at: number): string {
  return e(new Date(at).toISOString().replace('T', ' ').slice(0, 19));
}

function tiles(snapshot: ChainSnapshot, now: number): string {
  const soonest = snapshot.activeExpiries[0];
  const tile = (id: string, label: string, value: string) =>
    `<div class="tile" id="${id}"><b>${e(value)}</b>${e(label)}</div>`;
  return `<div class="tiles">${[
    tile('tile-installations', 'installations', String(snapshot.totalInstallations)),
    tile('tile-active', 'active chains', String(snapshot.counts.active)),
    tile('tile-reauthorization', 'need re-authorization', String(snapshot.counts.reauthorization_required)),
    tile('tile-revoked', 'revoked', String(snapshot.counts.revoked)),
    tile('tile-soonest', 'soonest expiry', soonest === undefined ? '—' : formatDuration(soonest - now)),
  ].join('')}</div>`;
}

function reauthorizationSection(snapshot: ChainSnapshot): string {
  const rows = snapshot.reauthorization.map(
    (c) =>
      `<tr><td><code>${e(c.installationId)}</code></td><td><code>${e(c.chain)}</code></td><td>${e(c.lastErrorCode ?? 'unknown')}</td></tr>`,
  );
  const body =
    rows.length === 0
      ? '<p class="muted">No chain needs re-authorization.</p>'
      : `<table><thead><tr><th>Installation</th><th>Chain</th><th>Last error</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="muted">Send these installations through the install flow again (<code>/slack/install</code>).</p>`;
  return `<section id="reauthorization"><h2>Needs re-authorization (${snapshot.counts.reauthorization_required})</h2>${body}</section>`;
}

function installationsSection(snapshot: ChainSnapshot, now: number): string {
  const rows = snapshot.installations.map((installation) => {
    const chains = installation.chains
      .map(
        (c) =>
          `<span class="chain"><code>${e(c.chain)}</code> ${status(c.status)} ${expiresIn(c, now)}</span>`,
      )
      .join('');
    return `<tr><td><code>${e(installation.installationId)}</code></td><td>${chains}</td></tr>`;
  });
  const shown =
    snapshot.installations.length < snapshot.totalInstallations
      ? `<p class="muted">Showing ${snapshot.installations.length} of ${snapshot.totalInstallations} (re-authorization first, then soonest expiry).</p>`
      : '';
  const body =
    rows.length === 0
      ? '<p class="muted">No installation stored yet.</p>'
      : `<table><thead><tr><th>Installation</th><th>Chains: status, time to expiry</th></tr></thead><tbody>${rows.join('')}</tbody></table>${shown}`;
  return `<section id="installations"><h2>Installations</h2>${body}</section>`;
}

function activitySection(activity: ActivityEntry[]): string {
  const rows = activity.map(
    (a) =>
      `<tr><td>${time(a.at)}</td><td><code>${e(a.installationId)}</code></td><td><code>${e(a.chain)}</code></td><td>${e(a.kind)}</td><td>${e(a.outcome)}</td><td>${e(a.code ?? '')}</td></tr>`,
  );
  const body =
    rows.length === 0
      ? '<p class="muted">No refresh since the server started.</p>'
      : `<table><thead><tr><th>Time (UTC)</th><th>Installation</th><th>Chain</th><th>Event</th><th>Outcome</th><th>Code</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return `<section id="events"><h2>Recent refresh events</h2>${body}</section>`;
}

/** The whole page. */
export function renderDashboard(model: DashboardModel): string {
  const { now, snapshot } = model;
  const reload =
    model.reloadSeconds > 0 ? `<meta http-equiv="refresh" content="${model.reloadSeconds}">` : '';
  let content: string;
  if (snapshot === undefined) {
    content = `<section class="error" id="store-error"><h2>The store could not be read</h2><p>${e(model.storeError ?? 'unknown error')}</p></section>`;
  } else {
    const bins = binExpiries(snapshot.activeExpiries, now);
    content = `${tiles(snapshot, now)}
<section id="expiries"><h2>Upcoming expiries, next 12 h (active chains per half hour)</h2>${renderExpiryChart(bins)}
<p class="muted">${bins.overdue} active chain${bins.overdue === 1 ? '' : 's'} already past expiry.</p></section>
${reauthorizationSection(snapshot)}
${installationsSection(snapshot, now)}`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${reload}<meta name="viewport" content="width=device-width,initial-scale=1">
<title>slack-rotator</title><style>${STYLE}</style></head>
<body><header><h1>slack-rotator</h1><span class="muted">as of ${time(now)} UTC</span></header>
<main>${content}
${activitySection(model.activity)}</main></body></html>`;
}
