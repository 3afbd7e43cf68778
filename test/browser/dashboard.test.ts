/**
 * The dashboard in a real browser (Debian Chromium via playwright-core): sign in, create a key,
 * switch a provider off and see the next route change, run the Playground until its video plays,
 * see spend in the chart, and an API key's session kept out of admin data. Screenshots of every
 * view at desktop and phone width go to test/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_KEY, ARTIFACTS, launchChromium, newContext, signIn, startDashboardGateway, type DashboardGateway } from './harness.ts';

const VIEWS_ADMIN = ['spend', 'providers', 'keys', 'tasks', 'playground'];
const VIEWS_KEY = ['tasks', 'playground', 'usage'];

// A real browser on a shared 2-core CI machine: generous per-test limits, the steps themselves are quick.
describe('dashboard in Chromium', { timeout: 60_000 }, () => {
  let gw: DashboardGateway;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let keyPage: Page;
  let apiKey = '';
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [gw, browser] = await Promise.all([startDashboardGateway(), launchChromium()]);
    admin = await newContext(browser, 1280, problems);
    page = await admin.newPage();
  }, 60_000);

  /** Upload the test media and submit a motion task with an API key over plain HTTP; returns the task id. */
  async function submitAs(key: string): Promise<string> {
    const auth = { authorization: `Bearer ${key}` };
    const upload = async (path: string, type: string) => {
      const form = new FormData();
      form.append('file', new Blob([readFileSync(path)], { type }), path.split('/').pop());
      const res = await fetch(`${gw.url}/v1/files`, { method: 'POST', headers: auth, body: form });
      expect(res.status).toBe(200);
      return ((await res.json()) as { url: string }).url;
    };
    const [image, video] = await Promise.all([upload(gw.files.image, 'image/png'), upload(gw.files.video, 'video/mp4')]);
    const res = await fetch(`${gw.url}/v1/videos/generations`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kling-v3-motion-control', image_urls: [image], video_urls: [video] }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { id: string }).id;
  }

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('signs in with the admin key into an HttpOnly, SameSite=Strict session', async () => {
    await page.goto(`${gw.url}/dashboard`);
    await expect.poll(() => page.url()).toMatch(/\/dashboard\/sign-in$/);
    await page.getByLabel('API key', { exact: true }).fill('rr_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not valid/);

    await signIn(page, gw.url, ADMIN_KEY);
    const [cookie] = await admin.cookies();
    expect(cookie).toMatchObject({ name: 'rr_session', httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie + JSON.stringify(localStorage))).not.toContain(cookie!.value);
    for (const name of ['Spend', 'Providers', 'Keys', 'Tasks', 'Playground']) await expect(page.getByRole('link', { name, exact: true }).count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(1);
  });

  it('creates a key and shows its secrets once', async () => {
    await page.goto(`${gw.url}/dashboard/keys`);
    await page.getByLabel('Name', { exact: true }).fill('browser-app');
    await page.getByLabel('Balance (USD)').fill('10');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = page.getByLabel('New API key');
    await key.waitFor();
    apiKey = (await key.textContent())!;
    expect(apiKey).toMatch(/^rr_/);
    expect(await page.getByLabel('New webhook secret').textContent()).toMatch(/^whsec_/);
    const row = page.getByRole('row', { name: /browser-app/ });
    await row.getByText('$10.00').waitFor();
    await row.getByLabel('Credit amount for browser-app').fill('5');
    await row.getByRole('button', { name: 'Credit' }).click();
    await row.getByText('$15.00').waitFor();
    await page.reload();
    expect(await page.content()).not.toContain(apiKey);
  });

  it('an Enabled switch changes the next route shown by the Playground quote', async () => {
    await page.goto(`${gw.url}/dashboard/playground`);
    await page.getByLabel('Character image', { exact: true }).setInputFiles(gw.files.image);
    await page.getByLabel('Reference video', { exact: true }).setInputFiles(gw.files.video);
    await expect.poll(() => page.locator('#quote-provider').textContent(), { timeout: 10_000 }).toBe('cheap-fal');
    // The key's list price, never the provider's cost: 5 s × $0.1134.
    expect(await page.locator('#quote-price').textContent()).toBe('$0.567');

    await page.goto(`${gw.url}/dashboard/providers`);
    await page.getByRole('checkbox', { name: 'Enabled cheap-fal' }).uncheck();
    await page.getByRole('row', { name: /cheap-fal.*enabled: true → false/ }).waitFor();
    await page.getByRole('spinbutton', { name: 'Priority cheap-fal' }).fill('3');
    await page.getByRole('spinbutton', { name: 'Priority cheap-fal' }).press('Enter');
    await page.getByRole('row', { name: /cheap-fal.*priority: 0 → 3/ }).waitFor();

    await page.goto(`${gw.url}/dashboard/playground`);
    await page.getByLabel('Character image', { exact: true }).setInputFiles(gw.files.image);
    // The reference video arrives by drag and drop this time.
    const dropped = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dance.mp4', { type: 'video/mp4' }));
      return transfer;
    }, readFileSync(gw.files.video).toString('base64'));
    await page.locator('[data-drop="video"]').dispatchEvent('drop', { dataTransfer: dropped });
    await expect.poll(() => page.locator('#video-status').textContent()).toMatch(/Uploaded dance.mp4/);
    await expect.poll(() => page.locator('#quote-provider').textContent(), { timeout: 10_000 }).toBe('fast-piapi');
  });

  it('a Playground run goes from the quote to a playing video', async () => {
    await page.getByLabel('Keep original sound').uncheck();
    const generate = page.getByRole('button', { name: 'Generate' });
    await expect.poll(() => generate.isEnabled()).toBe(true);
    await generate.click();
    const video = page.locator('#run-result video');
    await video.waitFor({ timeout: 20_000 });
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => page.locator('#run-status').textContent(), { timeout: 10_000 }).toMatch(/completed on fast-piapi .*(video ready|playing)/);
    expect(await video.evaluate((v: HTMLVideoElement) => v.error)).toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'playground-run-1280.png'), fullPage: true });
  });

  it('custom element creation from a face clip explains a refusal in words', async () => {
    await page.getByLabel('Element name').fill('Hero');
    await page.getByLabel('Description', { exact: true }).fill('A test character');
    await page.getByLabel('Face clip', { exact: true }).setInputFiles(gw.files.face);
    await expect.poll(() => page.locator('#face-status').textContent()).toMatch(/Uploaded/);
    await page.getByRole('button', { name: 'Create element' }).click();
    // Neither emulated provider here creates elements: the gateway's reason is shown as it gave it.
    await expect.poll(() => page.locator('#element-error').textContent()).toMatch(/^no provider can take this task/);
  });

  it('the spend chart shows the day by provider, with totals and the CSV link', async () => {
    await page.goto(`${gw.url}/dashboard/spend`);
    await expect.poll(() => page.locator('[data-total="Charged"]').textContent()).toBe('$0.567');
    const drawn = await page.locator('#chart').evaluate((canvas) => {
      const chart = (window as unknown as { Chart: { getChart(c: Element): { data: { datasets: { label: string; data: number[] }[] } } } }).Chart.getChart(canvas)!;
      return chart.data.datasets.map((d) => [d.label, d.data.reduce((a, b) => a + b, 0)]);
    });
    expect(drawn).toEqual([['fast-piapi', 0.567]]);
    const csv = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
    const res = await page.request.get(`${gw.url}${csv}`);
    expect(res.headers()['content-type']).toMatch(/text\/csv/);
    expect(await res.text()).toMatch(/fast-piapi/);
    await page.getByRole('row', { name: /browser-app|dashboard playground/ }).first().waitFor();
  });

  it('the Tasks view counts and plays the completed task', async () => {
    await page.goto(`${gw.url}/dashboard/tasks`);
    await expect.poll(() => page.locator('#counts').textContent()).toBe('0 running · 1 completed');
    await page.getByRole('row', { name: /completed/ }).click();
    await page.getByRole('heading', { name: 'Ledger' }).waitFor();
    const video = page.locator('#detail video');
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-task-detail-1280.png'), fullPage: true });
  });

  it('an API key session sees its own views, never admin data', async () => {
    // A task of this key (through the API, as an app would) for its Tasks and Usage views.
    const task = await submitAs(apiKey);
    const context = await newContext(browser, 1280, problems);
    const p = (keyPage = await context.newPage());
    await signIn(p, gw.url, apiKey);
    for (const name of ['Tasks', 'Playground', 'Usage']) expect(await p.getByRole('link', { name, exact: true }).count()).toBe(1);
    for (const name of ['Spend', 'Providers', 'Keys']) expect(await p.getByRole('link', { name, exact: true }).count()).toBe(0);
    const status = await p.evaluate(async () => Promise.all(['/admin/spend', '/admin/keys', '/admin/tasks'].map(async (u) => (await fetch(u)).status)));
    expect(status).toEqual([403, 403, 403]);
    const res = await p.goto(`${gw.url}/dashboard/spend`);
    expect(res!.status()).toBe(403);
    expect(await p.getByRole('alert').textContent()).toMatch(/for the admin key/);
    await p.goto(`${gw.url}/dashboard/tasks`);
    await p.getByRole('row', { name: new RegExp(task) }).waitFor();
    await p.goto(`${gw.url}/dashboard/usage`);
    await p.getByRole('row', { name: /kling-v3-motion-control/ }).waitFor();
  });

  it('every view at 1280 px and phone width, with no CSP violation', async () => {
    const shots = async (p: Page, views: string[], who: string) => {
      for (const view of views) {
        await p.goto(`${gw.url}/dashboard/${view}`);
        await p.waitForFunction(() => !document.querySelector('.loading') && document.querySelector('main')!.textContent!.trim() !== '');
        for (const width of [1280, 390]) {
          await p.setViewportSize({ width, height: width > 600 ? 900 : 844 });
          await p.screenshot({ path: join(ARTIFACTS, `${who}-${view}-${width}.png`), fullPage: true });
        }
        await p.setViewportSize({ width: 1280, height: 900 });
      }
    };
    // Two sessions, two pages: they can be photographed side by side.
    await Promise.all([shots(page, VIEWS_ADMIN, 'admin'), shots(keyPage, VIEWS_KEY, 'key')]);
    await keyPage.getByRole('button', { name: 'Sign out' }).click();
    await keyPage.waitForURL(/\/dashboard\/sign-in$/);
    await keyPage.setViewportSize({ width: 390, height: 844 });
    await keyPage.screenshot({ path: join(ARTIFACTS, 'sign-in-390.png') });
    expect(problems).toEqual([]);
  });
});
