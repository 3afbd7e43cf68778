/**
 * Browser-test harness: a demo-like gateway (real clock, in-process emulators on loopback that
 * finish in about a second, the poller running) and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { EMULATORS } from '../../providers/emulators.ts';
import { listen, type Emulator, type RunningServer } from '../../providers/emulator-kit.ts';
import { parseConfig } from '../../src/config.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

export const ADMIN_KEY = 'rr_admin_browser_test_secret';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots land here (git-ignored). */
export const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');

/** Two emulated providers: `cheap` wins on price until it is disabled, then `fast` takes over. */
const PROVIDERS = [
  { id: 'cheap-fal', type: 'fal', price: { '720p': 0.09, '1080p': 0.12 } },
  { id: 'fast-piapi', type: 'piapi', price: { '720p': 0.1, '1080p': 0.14 } },
];

export interface DashboardGateway {
  url: string;
  runtime: Runtime;
  store: Store;
  /** A tiny PNG and a 5 s MP4 on disk, for the file inputs. */
  files: { image: string; video: string; face: string };
  close(): Promise<void>;
}

export async function startDashboardGateway(): Promise<DashboardGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'reelroute-browser-'));
  const emulators: Emulator[] = [];
  const providers = [];
  for (const p of PROVIDERS) {
    const emu = await EMULATORS.get(p.type)!({ queueMs: 150, runMs: 700, latencyMs: 0, failureRate: 0, outputDurationS: 5, credentials: { apiKey: `${p.id}-key` } });
    emulators.push(emu);
    providers.push({ id: p.id, type: p.type, base_url: emu.url, api_key: `${p.id}-key`, priority: 0, enabled: true, timeout_ms: 2_000, models: { 'kling-v3-motion-control': { price: { per_second: p.price } } } });
  }
  // The app is bound after the server listens: uploads need public_base_url, which needs the port.
  let runtime: Runtime | undefined;
  const server: RunningServer = await listen({ fetch: (req: Request, env?: unknown) => runtime!.app.fetch(req, env) });
  const config = parseConfig({
    server: { public_base_url: server.url },
    callbacks: { allow_insecure: true },
    polling: { initial_ms: 200, max_ms: 400 },
    billing: { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.1134, '1080p': 0.1512 } } } },
    providers,
  });
  const store = await openStore(join(dir, 'reelroute.db'));
  runtime = await createRuntime({ config, store, adminKey: ADMIN_KEY, log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await runtime.poller.start();
  runtime.files.start();

  const media = join(dir, 'media');
  mkdirSync(media);
  const files = { image: join(media, 'character.png'), video: join(media, 'dance.mp4'), face: join(media, 'face.mp4') };
  writeFileSync(files.image, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));
  writeFileSync(files.video, syntheticMp4({ durationS: 5 }));
  writeFileSync(files.face, syntheticMp4({ durationS: 4 }));

  return {
    url: server.url,
    runtime,
    store,
    files,
    async close() {
      await Promise.all([runtime!.poller.stop(), runtime!.callbacks.stop(), runtime!.files.stop()]);
      await server.close();
      await Promise.all(emulators.map((e) => e.close()));
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Headless Chromium with nothing talking to the internet. playwright-core gives every launch a
 * fresh temporary profile (it refuses --user-data-dir) and deletes it on close.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** A new browser context whose pages report CSP violations and script errors into `problems`. */
export async function newContext(browser: Browser, width: number, problems: string[]): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height: width > 600 ? 900 : 844 }, deviceScaleFactor: 1 });
  context.on('page', (page) => watch(page, problems));
  return context;
}

function watch(page: Page, problems: string[]): void {
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`csp: ${msg.text()}`);
  });
}

/** Sign in through the form. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/dashboard/sign-in`);
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/dashboard\/(spend|playground)$/);
}
