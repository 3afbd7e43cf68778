/**
 * /docs in a real browser (Debian's Chromium): the API reference renders from the gateway's own
 * assets under its same-origin CSP, and nothing is fetched from another origin.
 */
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.ts';
import { CHROMIUM } from './harness.ts';

let gw: Gateway;
let browser: Browser;
beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal' }] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await gw.close();
});

it('renders the reference offline', async () => {
  const page = await browser.newPage();
  const fetchedElsewhere: string[] = [];
  page.on('response', (r) => {
    if (!r.url().startsWith(gw.url) && !/^(data|blob):/.test(r.url())) fetchedElsewhere.push(r.url());
  });
  await page.goto(`${gw.url}/docs`);
  await expect.poll(() => page.getByText('Quote a task without creating it').first().isVisible(), { timeout: 15_000 }).toBe(true);
  expect(fetchedElsewhere).toEqual([]);
  await page.close();
});
