/**
 * What the drill runs in its own process: the upstream emulators (real clock), a media server for
 * reference videos, and the callback receiver. Each planned task carries `drill:<idx>:<fate>` in its
 * prompt; a hook on every emulator's `createTask` turns that into the task's fate (synchronously,
 * so concurrent creates cannot take each other's fates) and remembers which drill task every
 * upstream task belongs to.
 */
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { EMULATORS } from '../providers/emulators.ts';
import { listen, type Emulator, type Fate, type RunningServer, type SimTask } from '../providers/emulator-kit.ts';
import { rangeResponse } from '../src/media/range-response.ts';
import { syntheticMp4 } from '../src/media/synthetic-mp4.ts';
import type { PlannedTask } from './drill-plan.ts';

export interface DrillProvider {
  id: string;
  type: string;
  /** USD per second at 720p (1080p costs twice as much). */
  price720: number;
  queueMs: number;
  runMs: number;
}

/** Cheapest first, so a task normally starts on fal and fails over to replicate, then evolink. */
export const DRILL_PROVIDERS: DrillProvider[] = [
  { id: 'fal-drill', type: 'fal', price720: 0.1, queueMs: 400, runMs: 1_500 },
  { id: 'replicate-drill', type: 'replicate', price720: 0.12, queueMs: 600, runMs: 2_500 },
  { id: 'evolink-drill', type: 'evolink', price720: 0.15, queueMs: 500, runMs: 3_000 },
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
}

export interface Upstreams {
  emulators: DrillEmulator[];
  /** Every upstream task created, by `${providerId} ${upstreamId}`. */
  creates: Map<string, UpstreamCreate>;
  media: RunningServer;
  receiver: Receiver;
  close(): Promise<void>;
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
    emulators.push({ provider, emulator, apiKey });
  }
  const media = await startMedia();
  const receiver = await startReceiver(plan);
  return {
    emulators,
    creates,
    media,
    receiver,
    async close() {
      await Promise.all([...emulators.map((e) => e.emulator.close()), media.close(), receiver.close()]);
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
