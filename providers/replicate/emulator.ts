/**
 * Replicate predictions API emulator, written from PROVIDERS.md (not from the adapter) so the two
 * check each other: `Authorization: Bearer …`, `POST /v1/models/{owner}/{name}/predictions`,
 * `GET /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`, problem-style error bodies.
 */
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import {
  EmulatorState,
  applySubmitFault,
  mountCommon,
  originOf,
  outputUrl,
  resetConnection,
  takeAcceptThenReset,
  type Emulator,
  type EmulatorOptions,
  type SimPhase,
  type SimTask,
  readCreateBody,
  startEmulator,
  type EmulatorBilling,
} from '../emulator-kit.ts';
import { toMicros } from '../emulator-statement.ts';

const MODEL = 'kwaivgi/kling-v3-motion-control';
const WEBHOOK_EVENTS = new Set(['start', 'output', 'logs', 'completed']);
/**
 * Replicate's bill (PROVIDERS.md, v3 page 2026-06-04): USD per output second, `std` $0.07, `pro`
 * $0.12. Only succeeded predictions are billed (failed/canceled ones produce no output).
 */
const BILLING: EmulatorBilling = {
  column: 'amount_usd',
  priceOf: (task) => ({ perSecondMicros: toMicros((task.input as { input?: { mode?: unknown } }).input?.mode === 'pro' ? 0.12 : 0.07) }),
};

/**
 * Replicate's `error` is free text with no structured code, so an input-side fate can only look
 * like what Replicate says for a moderation refusal; a client cannot tell it apart structurally.
 */
const INPUT_FAILURE_TEXT = 'The input or output was flagged as sensitive. Please try again with different inputs. (E005)';
const PROVIDER_FAILURE_TEXT = 'Prediction failed due to an internal error';

type InvalidField = { type: string; field: string; description: string };

/** Check the request the way Replicate validates a model's input schema (v2.6 schema, PROVIDERS.md). */
function validate(body: unknown): InvalidField[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ type: 'invalid_type', field: '(root)', description: 'body must be a JSON object' }];
  }
  const b = body as Record<string, unknown>;
  const input = b.input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [{ type: 'required', field: 'input', description: 'input is required' }];
  }
  const i = input as Record<string, unknown>;
  const out: InvalidField[] = [];
  for (const f of ['image', 'video']) {
    if (i[f] === undefined) out.push({ type: 'required', field: `input.${f}`, description: `${f} is required` });
    else if (typeof i[f] !== 'string' || !/^https?:\/\//.test(i[f] as string)) {
      out.push({ type: 'format', field: `input.${f}`, description: 'Does not match format \'uri\'' });
    }
  }
  const enums: Array<[string, readonly string[]]> = [['mode', ['std', 'pro']], ['character_orientation', ['image', 'video']]];
  for (const [f, allowed] of enums) {
    if (i[f] !== undefined && !allowed.includes(i[f] as string)) {
      out.push({ type: 'enum', field: `input.${f}`, description: `${f} must be one of: ${allowed.join(', ')}` });
    }
  }
  if (i.keep_original_sound !== undefined && typeof i.keep_original_sound !== 'boolean') {
    out.push({ type: 'invalid_type', field: 'input.keep_original_sound', description: 'Invalid type. Expected: boolean' });
  }
  if (i.prompt !== undefined && typeof i.prompt !== 'string') {
    out.push({ type: 'invalid_type', field: 'input.prompt', description: 'Invalid type. Expected: string' });
  }
  if (b.webhook !== undefined && (typeof b.webhook !== 'string' || !/^https?:\/\//.test(b.webhook))) {
    out.push({ type: 'format', field: 'webhook', description: 'webhook must be a URL' });
  }
  const filter = b.webhook_events_filter;
  if (filter !== undefined && (!Array.isArray(filter) || filter.some((e) => !WEBHOOK_EVENTS.has(e as string)))) {
    out.push({ type: 'enum', field: 'webhook_events_filter', description: 'events must be start, output, logs or completed' });
  }
  return out;
}

/** Replicate ids are 26 lowercase base32 characters. */
function predictionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('');
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The webhook events a prediction has had by `phase`: `start` always, whatever the filter says
 * (PROVIDERS.md); `output`/`logs` while it runs when asked for; `completed` at the end when asked
 * for. Each delivery carries the prediction as it is at the time of sending.
 */
function hookEvents(filter: readonly string[], phase: SimPhase, ran: boolean): ('start' | 'processing' | 'completed')[] {
  const events: ('start' | 'processing' | 'completed')[] = ['start'];
  if (ran && (filter.includes('output') || filter.includes('logs'))) events.push('processing');
  if ((phase === 'completed' || phase === 'failed' || phase === 'cancelled') && filter.includes('completed')) events.push('completed');
  return events;
}

/** The Hono app speaking Replicate's predictions protocol over `state`. */
export function createReplicateEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const expected = state.credentials.apiKey;
    if (!token || (expected !== undefined && token !== expected)) {
      return c.json({ title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 }, 401);
    }
    return next();
  });

  /** A prediction as Replicate shows it, its status derived from the emulator clock. */
  function view(origin: string, task: SimTask, at: number = state.now()): Record<string, unknown> {
    const phase = state.phase(task, at);
    const started = task.createdAt + state.queueMs;
    const ended = task.createdAt + state.runMs;
    const status = { queued: 'starting', running: 'processing', completed: 'succeeded', failed: 'failed', cancelled: 'canceled' }[phase];
    const fate = task.fate;
    let error: string | null = null;
    if (phase === 'failed' && fate.outcome === 'fail') {
      error = fate.providerSide === false ? INPUT_FAILURE_TEXT : (fate.message ?? PROVIDER_FAILURE_TEXT);
    }
    const finished = phase === 'completed' || phase === 'failed';
    const endedAt = phase === 'cancelled' ? Number(task.meta.cancelledAt ?? at) : finished ? ended : undefined;
    return {
      id: task.id,
      model: MODEL,
      version: 'hidden',
      input: (task.input as { input?: unknown }).input,
      logs: '',
      output: phase === 'completed' ? outputUrl(origin, task) : null,
      data_removed: false,
      error,
      status,
      source: 'api',
      created_at: iso(task.createdAt),
      ...(Math.min(at, endedAt ?? Infinity) >= started ? { started_at: iso(started) } : {}),
      ...(endedAt !== undefined ? { completed_at: iso(endedAt) } : {}),
      // Compute time, deliberately unlike the output duration: an adapter must not bill on it.
      metrics: finished ? { predict_time: (state.runMs - state.queueMs) / 1000 } : {},
      urls: {
        get: `${origin}/v1/predictions/${task.id}`,
        cancel: `${origin}/v1/predictions/${task.id}/cancel`,
        web: `https://replicate.com/p/${task.id}`,
      },
      ...(task.meta.webhook ? { webhook: task.meta.webhook, webhook_events_filter: task.meta.webhookEvents } : {}),
    };
  }

  app.post('/v1/models/:owner/:name/predictions', async (c) => {
    if (`${c.req.param('owner')}/${c.req.param('name')}` !== MODEL) {
      return c.json({ title: 'Not found', detail: 'The requested resource could not be found.', status: 404 }, 404);
    }
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const invalid = validate(body);
    if (invalid.length > 0) {
      const detail = invalid.map((f) => `- ${f.field}: ${f.description}`).join('\n') + '\n';
      return c.json({ title: 'Input validation failed', detail, status: 422, invalid_fields: invalid }, 422);
    }
    const b = body as { webhook?: string; webhook_events_filter?: string[] };
    const meta = { webhook: b.webhook, webhookEvents: b.webhook_events_filter ?? ['start', 'output', 'logs', 'completed'] };
    const task = state.createTask(body, meta, predictionId());
    if (b.webhook) {
      const origin = originOf(c);
      // Each event carries the prediction as it was when the event happened.
      const at = { start: task.createdAt, processing: task.createdAt + state.queueMs, completed: undefined };
      state.webhooks.watch(task, b.webhook, (t, phase) =>
        hookEvents(meta.webhookEvents, phase, phase !== 'queued' && state.phase(t, at.processing) === 'running').map((key) => ({ key, body: view(origin, t, at[key]) })),
      );
    }
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return c.json(view(originOf(c), task), 201);
  });

  const notFound = (c: Context) => c.json({ detail: 'Not found.', status: 404 }, 404);

  app.get('/v1/predictions/:id', (c) => {
    const task = state.tasks.get(c.req.param('id'));
    if (!task) return notFound(c);
    state.polls++;
    return c.json(view(originOf(c), task));
  });

  app.post('/v1/predictions/:id/cancel', (c) => {
    const task = state.tasks.get(c.req.param('id'));
    if (!task) return notFound(c);
    const phase = state.phase(task);
    // Replicate answers 200 with the prediction either way; an ended one is left as it was.
    if (phase === 'queued' || phase === 'running') {
      task.cancelled = true;
      task.meta.cancelledAt = state.now();
      state.cancels++;
    }
    return c.json(view(originOf(c), task));
  });

  return app;
}

/** Start a Replicate emulator on 127.0.0.1 (any free port). */
export function startReplicateEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createReplicateEmulatorApp, opts);
}
