import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { type BrowserContext, chromium } from 'playwright-core';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TOKEN_PATTERN } from '../../rotator/test/helpers/setup.js';
import { renderDashboard } from '../src/observability/dashboard.js';
import { createObservability, type Observability } from '../src/observability/observability.js';
import { registerObservabilityRoutes } from '../src/observability/routes.js';
import { createFleet, type Fleet } from './observability-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

let dir: string;
let fleet: Fleet;
let obs: Observability;
let app: FastifyInstance;
let browser: BrowserContext | undefined;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-dashboard-'));
  const database = new Database(join(dir, 'chains.db'));
  fleet = await createFleet({ store: createSqliteStore({ database }) });
  // Real data: refreshed chains, one with a user chain, one whose refresh token Slack refuses.
  await fleet.install('T0ALPHA', 0);
  await fleet.install('T0BRAVO', 2 * 3600_000, { userToken: true, userId: 'U0BRAVO' });
  await fleet.install('T0CHARLIE', 0);
  await fleet.install('T0DELTA', 5 * 3600_000);
  obs = createObservability(
    { store: fleet.store, apps: fleet.apps, now: Date.now },
    { cacheMs: 0, maxStaleMs: 0 },
  );
  await fleet.rotator.getToken({ teamId: 'T0ALPHA' });
  const charlie = await fleet.store.get(`${fleet.slack.clientId}:T0CHARLIE:bot`);
  fleet.slack.revokeChain(charlie?.refreshToken as string);
  await expect(fleet.rotator.getToken({ teamId: 'T0CHARLIE' })).rejects.toMatchObject({
    code: 'invalid_refresh_token',
  });
  app = Fastify();
  registerObservabilityRoutes(app, obs, undefined, { reloadSeconds: 0 });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  obs?.close();
  await fleet?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard in headless Chromium', () => {
  test('shows installations, chains, the expiry chart, re-authorization and recent events; no token', async () => {
    // Never skipped: a missing browser fails this test.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/services.sh does)`);
    }
    // A fresh profile (user data dir), so nothing of an earlier run or of the machine is used.
    browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const page = await browser.newPage();
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('slack-rotator');

    const installations = page.locator('#installations');
    for (const id of ['T0ALPHA', 'T0BRAVO', 'T0CHARLIE', 'T0DELTA']) {
      await expect.poll(() => installations.getByText(id, { exact: true }).isVisible()).toBe(true);
    }
    expect(await installations.getByText('user:U0BRAVO').isVisible()).toBe(true);
    expect(await installations.locator('.status-active').count()).toBe(4);
    // T0BRAVO's bot token has about 2 h left.
    const bravoRow = installations.locator('tr', { hasText: 'T0BRAVO' });
    expect(await bravoRow.innerText()).toMatch(/bot\s+active\s+(1h 5\dm|2h 00m)/);

    const reauthorization = page.locator('#reauthorization');
    expect(await reauthorization.locator('h2').innerText()).toBe('Needs re-authorization (1)');
    expect(await reauthorization.getByText('T0CHARLIE').isVisible()).toBe(true);
    expect(await reauthorization.getByText('invalid_refresh_token').isVisible()).toBe(true);
    expect(await page.locator('#tile-reauthorization b').innerText()).toBe('1');
    expect(await page.locator('#tile-active b').innerText()).toBe('4');

    // 24 half-hour bars; every active chain expires within the next 12 h (6 h tokens).
    const bars = page.locator('#expiries svg.chart rect.bar');
    expect(await bars.count()).toBe(24);
    const counts = await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-count'))));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#expiries svg.chart').isVisible()).toBe(true);

    const events = page.locator('#events');
    const alpha = events.locator('tr', { hasText: 'T0ALPHA' });
    expect(await alpha.first().innerText()).toMatch(/T0ALPHA\s+bot\s+refreshed\s+refreshed/);
    const charlie = events.locator('tr', { hasText: 'reauthorization_required' });
    expect(await charlie.first().innerText()).toMatch(
      /T0CHARLIE\s+bot\s+reauthorization_required\s+reauthorize/,
    );

    const html = await page.content();
    expect(TOKEN_PATTERN.test(html)).toBe(false);
    for (const secret of await fleet.storedSecrets()) expect(html.includes(secret)).toBe(false);

    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(existsSync(screenshot)).toBe(true);
    await page.close();
  });

  test('every value is HTML-escaped', () => {
    const hostile = '<script>alert(1)</script>';
    const html = renderDashboard({
      now: Date.now(),
      snapshot: {
        counts: { active: 0, reauthorization_required: 1, revoked: 0 },
        activeExpiries: new Float64Array(),
        installations: [
          {
            installationId: `T1${hostile}`,
            chains: [
              {
                installationId: `T1${hostile}`,
                appId: null,
                chain: `user:${hostile}`,
                status: 'reauthorization_required',
                expiresAt: 0,
                refreshedAt: null,
                lastErrorCode: hostile,
              },
            ],
          },
        ],
        totalInstallations: 1,
        reauthorization: [
          {
            installationId: `T1${hostile}`,
            appId: null,
            chain: 'bot',
            status: 'reauthorization_required',
            expiresAt: 0,
            refreshedAt: null,
            lastErrorCode: `"${hostile}'`,
          },
        ],
      },
      storeError: undefined,
      activity: [
        { at: 0, installationId: hostile, chain: hostile, kind: hostile, outcome: hostile, code: hostile },
      ],
      reloadSeconds: 5,
    });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&lt;script&gt;');
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
  });
});
