/**
 * What the drill runs in its own process: the upstream emulators (real clock), a media server for
 * reference videos, and the callback receiver. Each planned task carries `drill:<idx>:<fate>` in its
 * prompt; a hook on every emulator's `createTask` turns that into the task's fate (synchronously,
 * so concurrent creates cannot take each other's fates) and remembers which drill task every
 * upstream task belongs to.
 */
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { EMULATORS } from '../providers/emulators.ts';
import { listen, type Emulator, type Fate, type RunningServer, type SimTask } from '../providers/emulator-kit.ts';
import { rangeResponse } from '../src/media/range-response.ts';
import { syntheticMp4 } from '../src/media/synthetic-mp4.ts';
import type { Upload } from './drill-files.ts';
import type { PlannedTask } from './drill-plan.ts';

export interface DrillProvider {
  id: string;
  type: string;
  /** The gateway's motion-control price spec for it (`models.<model>.price`). */
  price: Record<string, unknown>;
  queueMs: number;
  runMs: number;
}

/**
 * The providers' own prices (PROVIDERS.md, as their emulators bill them), so what the gateway records
 * as upstream cost is what each statement bills and the drill's reconciliation can come out at 0.
 * Cheapest first: kie (11 credits × $0.005), replicate, evolink, fal; kie and evolink cannot cancel.
 */
export const DRILL_PROVIDERS: DrillProvider[] = [
  { id: 'kie-drill', type: 'kie', price: { per_second: { '720p': 11, '1080p': 18 }, credit_usd: 0.005 }, queueMs: 300, runMs: 1_500 },
  { id: 'replicate-drill', type: 'replicate', price: { per_second: { '720p': 0.07, '1080p': 0.12 } }, queueMs: 600, runMs: 2_500 },
  { id: 'evolink-drill', type: 'evolink', price: { per_second: { '720p': 0.1134, '1080p': 0.1512 } }, queueMs: 500, runMs: 3_000 },
  { id: 'fal-drill', type: 'fal', price: { per_second: { '720p': 0.126, '1080p': 0.168 } }, queueMs: 400, runMs: 1_500 },
];

export interface UpstreamCreate {
  providerId: string;
  upstreamId: string;
  /** Drill task index from the prompt; -1 when the prompt carried none. */
  idx: number;
  task: SimTask;
}

export interface DrillEmulator {
  provider: DrillProvider;
  emulator: Emulator;
  apiKey: string;
  /** What the gateway calls: a pass-through relay in front of the emulator that can hold output downloads. */
  relay: Relay;
}

/**
 * A transparent HTTP relay in front of one emulator. The emulator names output URLs after the Host
 * it was asked on, so output downloads (mirroring) come through here too; while `hold` is on they are
 * never answered, which lets the drill kill the gateway mid-mirror.
 */
export interface Relay {
  url: string;
  hold: boolean;
  /** Upstream ids whose output download was held (the gateway was mirroring them). */
  held: Set<string>;
  /** Forget the held downloads, cutting any still open (a live replica's mirror then tries again). */
  release(): void;
  close(): Promise<void>;
}

async function startRelay(target: string): Promise<Relay> {
  const held = new Set<string>();
  const waiting = new Set<ServerResponse>();
  const release = () => {
    for (const res of waiting) res.destroy();
    waiting.clear();
    held.clear();
  };
  const relay: Relay = { url: '', hold: false, held, release, close: async () => undefined };
  const server = createServer((req, res) => {
    const file = /^\/__files\/([^/?]+)\.mp4/.exec(req.url ?? '');
    if (file && relay.hold) {
      held.add(decodeURIComponent(file[1]!));
      waiting.add(res);
      return; // never answered: the gateway is killed while it waits
    }
    const up = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return relay;
}

export interface Upstreams {
  emulators: DrillEmulator[];
  /** Every upstream task created, by `${providerId} ${upstreamId}`. */
  creates: Map<string, UpstreamCreate>;
  media: RunningServer;
  receiver: Receiver;
  close(): Promise<void>;
}

/**
 * Where a task starts (CONTRACT §7 `route.order`; failover then goes by price): the providers in
 * turn, so each sees first creates and not only failovers; cancel fates on one that can cancel
 * (kie and evolink cannot, and kie is the cheapest).
 */
function firstProvider(t: PlannedTask, upstreams: Upstreams): string {
  const ids = upstreams.emulators.map((e) => e.provider.id);
  const cancellable = upstreams.emulators.filter((e) => e.provider.type === 'fal' || e.provider.type === 'replicate').map((e) => e.provider.id);
  const pool = t.fate === 'cancel' && cancellable.length ? cancellable : ids;
  return pool[t.idx % pool.length]!;
}

/** The create request of one planned task: its fate in the prompt, an uploaded clip or a media-server URL. */
export function bodyOf(t: PlannedTask, upstreams: Upstreams, uploads: ReadonlyMap<number, Upload>): Record<string, unknown> {
  const uploaded = t.upload ? uploads.get(t.refS)?.url : undefined;
  return {
    model: 'kling-v3-motion-control',
    quality: t.quality,
    image_urls: [`${upstreams.media.url}/img.png`],
    video_urls: [uploaded ?? `${upstreams.media.url}/v/${t.refS}.mp4`],
    prompt: `drill:${t.idx}:${t.fate}`,
    route: { order: [firstProvider(t, upstreams)] },
    ...(t.callback ? { callback_url: `${upstreams.receiver.url}/cb/${t.idx}` } : {}),
  };
}

const PROMPT_RE = /drill:(\d+):([a-z]+)/;

/** The fate a create gets: by the drill task's plan and how many creates that task already had. */
export function fateFor(t: PlannedTask, nthCreate: number): Fate {
  const complete: Fate = { outcome: 'complete', durationS: t.outS, reportDuration: t.reportDuration };
  switch (t.fate) {
    case 'failover':
      return nthCreate === 0 ? { outcome: 'fail', message: 'GPU worker crashed (drill)', providerSide: true } : complete;
    case 'fail':
      return { outcome: 'fail', message: 'GPU worker crashed (drill)', providerSide: true };
    case 'reject':
      return { outcome: 'fail', code: 'content_policy_violation', message: 'flagged (drill)', providerSide: false };
    default:
      return complete;
  }
}

export async function startUpstreams(plan: readonly PlannedTask[]): Promise<Upstreams> {
  const creates = new Map<string, UpstreamCreate>();
  const createsPerTask = new Map<number, number>();
  const emulators: DrillEmulator[] = [];
  for (const provider of DRILL_PROVIDERS) {
    const start = EMULATORS.get(provider.type);
    if (!start) throw new Error(`no emulator for ${provider.type}`);
    const apiKey = `${provider.id}-key`;
    const emulator = await start({ queueMs: provider.queueMs, runMs: provider.runMs, credentials: { apiKey }, outputDurationS: 5 });
    const state = emulator.state;
    const original = state.createTask.bind(state);
    state.createTask = (input: unknown, meta: Record<string, unknown> = {}, id?: string): SimTask => {
      const m = PROMPT_RE.exec(JSON.stringify(input) ?? '');
      const idx = m ? Number(m[1]) : -1;
      const planned = plan[idx];
      if (planned) {
        const n = createsPerTask.get(idx) ?? 0;
        createsPerTask.set(idx, n + 1);
        // createTask takes the head of the queue: put this task's own fate there, synchronously.
        state.fates.unshift(fateFor(planned, n));
      }
      const task = id === undefined ? original(input, meta) : original(input, meta, id);
      creates.set(`${provider.id} ${task.id}`, { providerId: provider.id, upstreamId: task.id, idx, task });
      return task;
    };
    emulators.push({ provider, emulator, apiKey, relay: await startRelay(emulator.url) });
  }
  const media = await startMedia();
  const receiver = await startReceiver(plan);
  return {
    emulators,
    creates,
    media,
    receiver,
    async close() {
      await Promise.all([...emulators.map((e) => e.emulator.close()), ...emulators.map((e) => e.relay.close()), media.close(), receiver.close()]);
    },
  };
}

/** `/v/<seconds>.mp4` (range requests) and `/img.png`, like the test helper's media server. */
async function startMedia(): Promise<RunningServer> {
  const app = new Hono();
  app.get('/v/:file', (c) => rangeResponse(c.req.header('range'), syntheticMp4({ durationS: parseFloat(c.req.param('file')) }), { 'content-type': 'video/mp4' }));
  app.get('/img.png', (c) => c.body(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 200, { 'content-type': 'image/png' }));
  return listen(app);
}

export interface Receipt {
  idx: number;
  webhookId: string;
  /** Which receipt of this webhook-id it was (1 = first). */
  nth: number;
  answered: number;
  signatureOk: boolean;
  taskId: string | null;
  taskStatus: string | null;
  at: number;
}

export interface Receiver extends RunningServer {
  receipts: Receipt[];
  /** Drill task index → webhook-ids answered 2xx. */
  delivered: Map<number, Set<string>>;
  setSecret(whsec: string): void;
}

/**
 * Callback receiver at `/cb/<idx>`: answers 500 to the first `failFirst` deliveries of each
 * webhook-id (from the plan), then 200; checks every signature against the key's secret.
 */
async function startReceiver(plan: readonly PlannedTask[]): Promise<Receiver> {
  const receipts: Receipt[] = [];
  const delivered = new Map<number, Set<string>>();
  const seen = new Map<string, number>();
  let webhook: Webhook | null = null;
  const app = new Hono();
  app.post('/cb/:idx', async (c) => {
    const idx = Number(c.req.param('idx'));
    const payload = await c.req.text();
    const headers = { 'webhook-id': c.req.header('webhook-id') ?? '', 'webhook-timestamp': c.req.header('webhook-timestamp') ?? '', 'webhook-signature': c.req.header('webhook-signature') ?? '' };
    let signatureOk = false;
    try {
      webhook?.verify(payload, headers);
      signatureOk = webhook !== null;
    } catch {
      signatureOk = false;
    }
    let body: { id?: string; status?: string } = {};
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      /* recorded as null below */
    }
    const webhookId = headers['webhook-id'];
    const nth = (seen.get(webhookId) ?? 0) + 1;
    seen.set(webhookId, nth);
    const answered = nth <= (plan[idx]?.failFirst ?? 0) ? 500 : 200;
    receipts.push({ idx, webhookId, nth, answered, signatureOk, taskId: body.id ?? null, taskStatus: body.status ?? null, at: Date.now() });
    if (answered !== 200) return c.json({ error: 'drill receiver fails the first tries' }, 500);
    const ids = delivered.get(idx) ?? new Set<string>();
    ids.add(webhookId);
    delivered.set(idx, ids);
    return c.json({ ok: true });
  });
  const server = await listen(app);
  return Object.assign(server, {
    receipts,
    delivered,
    setSecret(whsec: string) {
      webhook = new Webhook(whsec.slice('whsec_'.length));
    },
  });
}
