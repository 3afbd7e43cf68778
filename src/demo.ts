/**
 * Demo mode: with no config file, the gateway runs emulators of its upstreams in-process on
 * loopback (each with its own price, latency and failure rate, so cheapest-first routing and
 * failover can be seen), serves the demo media itself, and prints a banner with copy-paste curls.
 */
import { Hono } from 'hono';
import { EMULATORS } from '../providers/emulators.ts';
import { listen, type Emulator, type RunningServer } from '../providers/emulator-kit.ts';
import type { Config, ProviderConfig } from './config.ts';
import type { ProviderRuntime } from './routing/providers.ts';
import { microsToUsd } from './pricing/money.ts';
import { syntheticMp4 } from './media/synthetic-mp4.ts';
import { rangeResponse } from './media/range-response.ts';

/** Demo upstreams: every adapter, at its default prices, each with its own latency and failure rate. */
const DEMO_PROVIDERS: readonly { type: string; latencyMs: number; failureRate: number }[] = [
  { type: 'replicate', latencyMs: 60, failureRate: 0.15 },
  { type: 'kie', latencyMs: 80, failureRate: 0.1 },
  { type: 'piapi', latencyMs: 40, failureRate: 0.05 },
  { type: 'evolink', latencyMs: 30, failureRate: 0.02 },
  { type: 'wavespeed', latencyMs: 50, failureRate: 0.05 },
  { type: 'fal', latencyMs: 30, failureRate: 0.02 },
  { type: 'kling', latencyMs: 90, failureRate: 0.02 },
];

/** A 1×1 PNG: the demo character. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

export interface Demo {
  mediaUrl: string;
  emulators: Emulator[];
  close(): Promise<void>;
}

/** Start the emulators and the media server, and point the config at them. */
export async function startDemo(config: Config): Promise<Demo> {
  const emulators: Emulator[] = [];
  const providers: ProviderConfig[] = [];
  for (const p of DEMO_PROVIDERS) {
    const start = EMULATORS.get(p.type)!;
    const emulator = await start({ queueMs: 1_000, runMs: 4_000, latencyMs: p.latencyMs, failureRate: p.failureRate, outputDurationS: 6 });
    emulators.push(emulator);
    providers.push({
      id: `${p.type}-demo`,
      type: p.type,
      base_url: emulator.url,
      api_key: 'demo',
      ...(p.type === 'kling' ? { access_key: 'demo', secret_key: 'demo' } : {}),
      priority: 0,
      enabled: true,
      timeout_ms: 10_000,
    });
  }
  config.providers = providers;
  // List prices: keys pay the same whichever upstream runs the task, so the charge equals the quote
  // even after a failover.
  config.billing = { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.1134, '1080p': 0.1512 } } } };
  // Demo media and emulators live on loopback over http.
  config.callbacks.allow_insecure = true;
  config.polling.initial_ms = 1_000;
  config.polling.max_ms = 3_000;

  const media = new Hono();
  const clip = syntheticMp4({ durationS: 6 });
  media.get('/media/character.png', (c) => c.body(new Uint8Array(PNG), 200, { 'content-type': 'image/png' }));
  media.get('/media/dance.mp4', (c) => rangeResponse(c.req.header('range'), clip, { 'content-type': 'video/mp4', etag: '"demo-dance-6s"' }));
  const mediaServer: RunningServer = await listen(media);
  return {
    mediaUrl: mediaServer.url,
    emulators,
    close: async () => {
      await Promise.all([mediaServer.close(), ...emulators.map((e) => e.close())]);
    },
  };
}

function priceLine(p: ProviderRuntime): string {
  const price = p.models.get('kling-v3-motion-control')?.price.perUnit;
  return price ? `720p $${microsToUsd(price['720p'])}/s · 1080p $${microsToUsd(price['1080p'])}/s` : '';
}

/**
 * The banner: keys, the emulated upstreams, and two curls that work as pasted. Only keys the gateway
 * generated itself are printed: `adminKey: null` means the operator supplied it (REELROUTE_ADMIN_KEY),
 * and an operator's secret must not end up in a terminal scrollback or a log collector.
 */
export function demoBanner(opts: {
  gatewayUrl: string;
  adminKey: string | null;
  apiKey: string;
  mediaUrl: string;
  providers: readonly ProviderRuntime[];
  /** One-time sign-in link to the dashboard (works once). */
  dashboardUrl?: string;
}): string {
  const body = JSON.stringify({
    model: 'kling-v3-motion-control',
    image_urls: [`${opts.mediaUrl}/media/character.png`],
    video_urls: [`${opts.mediaUrl}/media/dance.mp4`],
    quality: '720p',
  });
  const auth = `-H "Authorization: Bearer ${opts.apiKey}"`;
  const lines = [
    '',
    '  reelroute — DEMO MODE',
    '  ─────────────────────',
    '  The upstream providers below are EMULATED in this process (no real video is generated);',
    '  tasks go to the cheapest healthy one and fail over when one fails (see `attempts`):',
    ...opts.providers.map((p) => `    • ${p.id.padEnd(16)} ${p.baseUrl.padEnd(24)} ${priceLine(p)}`),
    '  To use real providers, write reelroute.yaml (see README) or set REELROUTE_CONFIG.',
    '',
    `  gateway   ${opts.gatewayUrl}        (API reference: ${opts.gatewayUrl}/docs)`,
    `  admin key ${opts.adminKey ?? 'the admin key from REELROUTE_ADMIN_KEY'}`,
    `  API key   ${opts.apiKey}`,
    '',
    ...(opts.dashboardUrl ? [`  dashboard ${opts.dashboardUrl}`, '            (opens signed in as the admin; the link works once — then sign in with a key)', ''] : []),
    '  1) submit a motion-control task:',
    `  TASK=$(curl -s ${opts.gatewayUrl}/v1/videos/generations ${auth} -H "content-type: application/json" \\`,
    `    -d '${body}' | node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).id'); echo $TASK`,
    '',
    '  2) poll it (it completes in a few seconds):',
    `  curl -s ${opts.gatewayUrl}/v1/tasks/$TASK ${auth}`,
    '',
  ];
  return lines.join('\n');
}
