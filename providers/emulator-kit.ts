/**
 * Shared machinery for provider emulators: a simulated task store driven by an injectable clock,
 * fault injection for creates, per-task fates, synthetic output files, and a control API
 * (`/__emulator/*`) so tests and drills in another process can steer an emulator over HTTP.
 *
 * Each provider's `emulator.ts` owns its protocol (paths, auth, body shapes, status words) and states
 * how its provider bills and which webhooks it sends; this file owns only what every emulator has in
 * common, with the bill (`GET /__emulator/statement`) in ./emulator-statement.ts and outbound
 * webhook delivery in ./emulator-webhooks.ts.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { syntheticMp4 } from '../src/media/synthetic-mp4.ts';
import { statementCsv, statementLines, statementRange, type EmulatorBilling } from './emulator-statement.ts';
import { WebhookSender } from './emulator-webhooks.ts';

export type { BilledPrice, EmulatorBilling } from './emulator-statement.ts';
export type { HookEvent, HookEvents } from './emulator-webhooks.ts';

/** A fault applied to the next create request. */
export type SubmitFault =
  | { kind: 'status'; status: number; body?: unknown }
  | { kind: 'reset' }
  | { kind: 'hang'; ms: number }
  /** Accept the task upstream, then drop the connection before answering (outcome unknown). */
  | { kind: 'accept_then_reset' };

/** How a created task ends. */
export type Fate =
  | { outcome: 'complete'; durationS?: number; reportDuration?: boolean }
  | { outcome: 'fail'; code?: string; message?: string; providerSide?: boolean };

export interface EmulatorOptions {
  /** Clock in ms; tests inject a manual one. */
  now?: () => number;
  /** Time from create to `processing`, in emulator clock ms. */
  queueMs?: number;
  /** Time from create to the end, in emulator clock ms. */
  runMs?: number;
  /** Real delay before answering every API call, ms (latency simulation; 0 in tests). */
  latencyMs?: number;
  /** Chance (0–1) that a task fails provider-side when no fate is queued (demo mode). */
  failureRate?: number;
  /** Output duration when the fate does not say, seconds. */
  outputDurationS?: number;
  /** Credentials the emulator accepts; when unset, any non-empty credential is accepted. */
  credentials?: { apiKey?: string; accessKey?: string; secretKey?: string };
  /** Real ms between webhook delivery rounds (default 200); 0 = only on an explicit flush. */
  webhookIntervalMs?: number;
}

export interface SimTask {
  id: string;
  createdAt: number;
  input: unknown;
  fate: Fate;
  cancelled: boolean;
  /** Extra per-protocol data (e.g. Kling external_task_id). */
  meta: Record<string, unknown>;
}

export type SimPhase = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** State of one emulator: its tasks, queued faults and counters. */
export class EmulatorState {
  readonly now: () => number;
  queueMs: number;
  runMs: number;
  latencyMs: number;
  failureRate: number;
  outputDurationS: number;
  readonly tasks = new Map<string, SimTask>();
  readonly submitFaults: SubmitFault[] = [];
  readonly fates: Fate[] = [];
  /** Creates that reached the emulator, including faulted ones. */
  createsReceived = 0;
  /** Tasks actually created. */
  tasksCreated = 0;
  polls = 0;
  cancels = 0;
  /** Last request headers seen, for credential checks in tests. */
  lastHeaders: Record<string, string> = {};
  lastCreateBody: unknown = undefined;
  readonly credentials: NonNullable<EmulatorOptions['credentials']>;
  /** Outbound webhooks to the URLs creates registered. */
  readonly webhooks: WebhookSender;

  constructor(opts: EmulatorOptions = {}) {
    this.credentials = opts.credentials ?? {};
    this.webhooks = new WebhookSender((task) => this.phase(task), opts.webhookIntervalMs ?? 200);
    this.now = opts.now ?? Date.now;
    this.queueMs = opts.queueMs ?? 1_000;
    this.runMs = opts.runMs ?? 3_000;
    this.latencyMs = opts.latencyMs ?? 0;
    this.failureRate = opts.failureRate ?? 0;
    this.outputDurationS = opts.outputDurationS ?? 5;
  }

  /** Take the next queued submit fault, if any. */
  takeFault(): SubmitFault | undefined {
    return this.submitFaults.shift();
  }

  /** Create a simulated task with the next queued fate (or the default one). */
  createTask(input: unknown, meta: Record<string, unknown> = {}, id: string = randomUUID()): SimTask {
    const fate = this.fates.shift() ?? this.defaultFate();
    const task: SimTask = { id, createdAt: this.now(), input, fate, cancelled: false, meta };
    this.tasks.set(id, task);
    this.tasksCreated++;
    return task;
  }

  private defaultFate(): Fate {
    if (this.failureRate > 0 && Math.random() < this.failureRate) {
      return { outcome: 'fail', code: 'internal_error', message: 'GPU worker crashed', providerSide: true };
    }
    return { outcome: 'complete' };
  }

  /** The task's phase now, or as it was at `at` (what a webhook sent then carried). */
  phase(task: SimTask, at: number = this.now()): SimPhase {
    if (task.cancelled && at >= Number(task.meta.cancelledAt ?? -Infinity)) return 'cancelled';
    const age = at - task.createdAt;
    if (age < this.queueMs) return 'queued';
    if (age < this.runMs) return 'running';
    return task.fate.outcome === 'complete' ? 'completed' : 'failed';
  }

  /** 0–100 progress by elapsed time. */
  progress(task: SimTask): number {
    const p = (this.now() - task.createdAt) / Math.max(1, this.runMs);
    return Math.max(0, Math.min(100, Math.round(p * 100)));
  }

  durationOf(task: SimTask): number {
    return task.fate.outcome === 'complete' ? (task.fate.durationS ?? this.outputDurationS) : 0;
  }

  /** Whether the fate wants the duration reported in the status answer (default: yes). */
  reportsDuration(task: SimTask): boolean {
    return task.fate.outcome === 'complete' && task.fate.reportDuration !== false;
  }
}

/** Apply the latency and the next submit fault. Returns a response to send instead, or null to go on. */
export async function applySubmitFault(c: Context, state: EmulatorState): Promise<Response | null> {
  state.createsReceived++;
  // accept_then_reset stays queued: the protocol applies it after creating the task.
  if (!state.submitFaults[0] || state.submitFaults[0].kind === 'accept_then_reset') return null;
  const fault = state.takeFault()!;
  if (fault.kind === 'status') return c.json((fault.body ?? { error: 'injected fault' }) as object, fault.status as 500);
  if (fault.kind === 'hang') {
    await sleep(fault.ms);
    return null;
  }
  if (fault.kind === 'reset') return resetConnection(c);
  return null;
}

/** After creating a task: true when the next fault says to drop the connection instead of answering. */
export function takeAcceptThenReset(state: EmulatorState): boolean {
  const next = state.submitFaults[0];
  if (next?.kind === 'accept_then_reset') {
    state.submitFaults.shift();
    return true;
  }
  return false;
}

/** Destroy the socket under this request: the client sees a connection reset. */
export function resetConnection(c: Context): Response {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  incoming?.socket.destroy();
  return new Response(null, { status: 500 });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Mount the common routes: synthetic output files and the control API.
 * `GET /__files/:id.mp4` serves an MP4 whose header says the task's output duration;
 * `GET /__emulator/statement?from=&to=` the provider's bill as a usage statement (CSV).
 */
export function mountCommon(app: Hono, state: EmulatorState, billing: EmulatorBilling): void {
  app.use('*', async (c, next) => {
    if (state.latencyMs > 0 && !c.req.path.startsWith('/__')) await sleep(state.latencyMs);
    const h: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (h[k] = v));
    if (!c.req.path.startsWith('/__')) state.lastHeaders = h;
    await next();
  });
  app.get('/__files/:file', (c) => {
    const id = c.req.param('file').replace(/\.mp4$/, '');
    const task = state.tasks.get(id);
    if (!task) return c.json({ error: 'not found' }, 404);
    const bytes = syntheticMp4({ durationS: state.durationOf(task) });
    return c.body(new Uint8Array(bytes), 200, { 'content-type': 'video/mp4' });
  });
  app.get('/__emulator/statement', (c) => {
    const range = statementRange(c.req.query('from'), c.req.query('to'));
    if (typeof range === 'string') return c.json({ error: range }, 400);
    return c.body(statementCsv(billing, statementLines(state, billing, range)), 200, { 'content-type': 'text/csv; charset=utf-8' });
  });
  app.get('/__emulator/stats', (c) =>
    c.json({
      creates_received: state.createsReceived,
      tasks_created: state.tasksCreated,
      polls: state.polls,
      cancels: state.cancels,
      webhooks_delivered: state.webhooks.delivered,
      webhooks_failed: state.webhooks.failed,
    }),
  );
  app.post('/__emulator/webhooks/flush', async (c) => c.json({ delivered: await state.webhooks.flush() }));
  app.post('/__emulator/faults', async (c) => {
    const body = (await c.req.json()) as { submit?: SubmitFault[]; fates?: Fate[]; failure_rate?: number; latency_ms?: number; run_ms?: number; queue_ms?: number };
    state.submitFaults.push(...(body.submit ?? []));
    state.fates.push(...(body.fates ?? []));
    if (body.failure_rate !== undefined) state.failureRate = body.failure_rate;
    if (body.latency_ms !== undefined) state.latencyMs = body.latency_ms;
    if (body.run_ms !== undefined) state.runMs = body.run_ms;
    if (body.queue_ms !== undefined) state.queueMs = body.queue_ms;
    return c.json({ ok: true });
  });
}

/** Read a create body the way a lenient server does (not JSON → undefined) and remember it for tests. */
export async function readCreateBody(c: Context, state: EmulatorState): Promise<unknown> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    body = undefined;
  }
  state.lastCreateBody = body;
  return body;
}

/** Whether a presented credential is accepted: required, and exactly the configured one when set. */
export function acceptsKey(state: EmulatorState, key: string): boolean {
  const expected = state.credentials.apiKey;
  return key !== '' && (expected === undefined || key === expected);
}

/** Start an emulator app on 127.0.0.1:0 with fresh state. */
export async function startEmulator(createApp: (state: EmulatorState) => Hono, opts: EmulatorOptions = {}): Promise<Emulator> {
  const state = new EmulatorState(opts);
  const server = await listen(createApp(state));
  const close = async (): Promise<void> => {
    state.webhooks.stop();
    await server.close();
  };
  return { ...server, close, state };
}

/** URL of a task's output file on this emulator. */
export function outputUrl(origin: string, task: SimTask): string {
  return `${origin}/__files/${task.id}.mp4`;
}

/** The origin the client used to reach us, so output URLs point back at this emulator. */
export function originOf(c: Context): string {
  return new URL(c.req.url).origin;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serve a Hono app on 127.0.0.1 (port 0 = any free port). */
export function listen(app: { fetch: Hono['fetch'] }, port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  return new Promise((resolve) => {
    const server: ServerType = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A started emulator: its state (to steer it in-process) and its server. */
export interface Emulator extends RunningServer {
  state: EmulatorState;
}
