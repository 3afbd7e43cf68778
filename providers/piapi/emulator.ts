/**
 * PiAPI unified task API emulator, written from PROVIDERS.md (not from the adapter) so the two check
 * each other: `x-api-key` auth, `POST /api/v1/task` with `{model, task_type, input, config}`,
 * `GET /api/v1/task/{task_id}`, and a `{code, data, message}` envelope (code 200 = ok, unverified).
 *
 * Output assumption (unverified, the same one the adapter reads first): a completed Kling task's
 * video URL is `data.output.works[0].video.resource_without_watermark` (and `.resource`).
 */
import { randomUUID } from 'node:crypto';
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
  type SimTask,
  readCreateBody,
  acceptsKey,
  startEmulator,
  type EmulatorBilling,
} from '../emulator-kit.ts';
import { toMicros } from '../emulator-statement.ts';

/** Kling versions accepted for motion control (2.6 documented; 3.0 assumed). */
const VERSIONS = new Set(['2.6', '3.0']);
/**
 * PiAPI's bill: PROVIDERS.md gives no motion-control price (unverified), so this is a placeholder:
 * USD per output second, $0.10 `std`, $0.15 `pro`. Only completed tasks are billed.
 */
const BILLING: EmulatorBilling = {
  column: 'amount_usd',
  priceOf: (task) => ({ perSecondMicros: toMicros((task.input as { input?: { mode?: unknown } }).input?.mode === 'pro' ? 0.15 : 0.1) }),
};
/**
 * How an emulated failure looks (unverified, PiAPI publishes no error-code list): an input-side fate
 * (`providerSide: false`) fails with `error.code` 400 and a moderation message; a provider-side one
 * with 500. The fate's own `code` is not used, so generic fates cannot produce codes PiAPI lacks.
 */
const INPUT_ERROR_CODE = 400;
const PROVIDER_ERROR_CODE = 500;
/** PiAPI's zero time, shown for timestamps not reached yet. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** PiAPI's envelope; the HTTP status mirrors the code (unverified). */
function answer(c: Context, code: number, message: string, data: unknown = null): Response {
  return c.json({ code, data, message }, code as 200);
}

/** Check a create body the way PiAPI's validation would; null when valid, else the message. */
function validate(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'invalid request body';
  const b = body as Record<string, unknown>;
  if (b.model !== 'kling') return `unsupported model: ${String(b.model)}`;
  if (b.task_type !== 'motion_control') return `unsupported task_type: ${String(b.task_type)}`;
  const i = b.input as Record<string, unknown> | undefined;
  if (typeof i !== 'object' || i === null || Array.isArray(i)) return 'input is required';
  for (const field of ['image_url', 'video_url']) {
    if (typeof i[field] !== 'string' || (i[field] as string).length === 0) return `input.${field} is required`;
  }
  if (i.motion_direction !== 'image' && i.motion_direction !== 'video') return 'input.motion_direction must be image or video';
  if (i.mode !== undefined && i.mode !== 'std' && i.mode !== 'pro') return `input.mode must be std or pro, got ${String(i.mode)}`;
  if (i.keep_original_sound !== undefined && typeof i.keep_original_sound !== 'boolean') return 'input.keep_original_sound must be a boolean';
  if (i.version !== undefined && (typeof i.version !== 'string' || !VERSIONS.has(i.version))) return `unsupported version: ${String(i.version)}`;
  if (i.prompt !== undefined && typeof i.prompt !== 'string') return 'input.prompt must be a string';
  if (b.config !== undefined) {
    const hook = (b.config as { webhook_config?: { endpoint?: unknown; secret?: unknown } } | null)?.webhook_config;
    if (hook !== undefined && (typeof hook?.endpoint !== 'string' || (hook.secret !== undefined && typeof hook.secret !== 'string'))) {
      return 'config.webhook_config must have a string endpoint and secret';
    }
  }
  return null;
}

/** The Hono app speaking PiAPI's task protocol over `state`. */
export function createPiapiEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    // Only x-api-key counts: a Bearer token in Authorization is not PiAPI's scheme.
    const key = (c.req.header('x-api-key') ?? '').trim();
    if (!acceptsKey(state, key)) return answer(c, 401, 'Unauthorized: invalid api key');
    return next();
  });

  app.post('/api/v1/task', async (c) => {
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const problem = validate(body);
    if (problem) return answer(c, 400, problem);
    const config = (body as { config?: unknown }).config;
    const task = state.createTask(body, { config }, randomUUID());
    const hook = (config as { webhook_config?: { endpoint: string; secret?: string } } | undefined)?.webhook_config;
    if (hook) watchTask(originOf(c), task, hook.endpoint, hook.secret ?? '');
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return answer(c, 200, 'success', taskObject(originOf(c), task));
  });

  app.get('/api/v1/task/:id', (c) => {
    state.polls++;
    const task = state.tasks.get(c.req.param('id'));
    if (!task) return answer(c, 404, 'task not found');
    return answer(c, 200, 'success', taskObject(originOf(c), task));
  });

  /**
   * PiAPI's unified webhook fires on create, on progress and at the end, not only when done
   * (PROVIDERS.md): `pending` at create, `staged` while it waits for a slot, `processing` once it
   * runs, then the final object. Body `{timestamp, data: task}`, the secret in `x-webhook-secret`.
   */
  function watchTask(origin: string, task: SimTask, url: string, secret: string): void {
    const headers = { 'x-webhook-secret': secret };
    const event = (key: string, at: number, status?: string) => {
      const data = taskObject(origin, task, at);
      return { key, headers, body: { timestamp: Math.floor(at / 1000), data: status ? { ...data, status } : data } };
    };
    state.webhooks.watch(task, url, (t, phase) => {
      const events = [event('created', t.createdAt), event('staged', t.createdAt, 'staged')];
      const startedAt = t.createdAt + state.queueMs;
      if (phase !== 'queued' && state.phase(t, startedAt) === 'running') events.push(event('processing', startedAt));
      if (phase === 'completed' || phase === 'failed' || phase === 'cancelled') events.push(event('final', state.now()));
      return events;
    });
  }

  /** The task object PiAPI returns (as it is `now`), its status words mapped from the kit's phase. */
  function taskObject(origin: string, task: SimTask, now: number = state.now()): Record<string, unknown> {
    const phase = state.phase(task, now);
    const fate = task.fate;
    const at = (ms: number) => new Date(ms).toISOString();
    const started = phase !== 'queued';
    const ended = phase === 'completed' || phase === 'failed' || phase === 'cancelled';
    const input = (task.input as { input: unknown }).input;
    const common = {
      task_id: task.id,
      model: 'kling',
      task_type: 'motion_control',
      config: { service_mode: 'public', ...(task.meta.config as object | undefined) },
      input,
      meta: {
        created_at: at(task.createdAt),
        started_at: started ? at(task.createdAt + state.queueMs) : ZERO_TIME,
        ended_at: ended ? at(task.createdAt + state.runMs) : ZERO_TIME,
        usage: { type: 'point', frozen: 0, consume: 0 },
        is_using_private_pool: false,
      },
      detail: null,
      logs: [],
    };
    const noError = { code: 0, raw_message: '', message: '', detail: null };
    const emptyOutput = { type: '', status: 0, works: null };
    switch (phase) {
      case 'queued':
        return { ...common, status: 'pending', output: emptyOutput, error: noError };
      case 'running':
        return { ...common, status: 'processing', output: emptyOutput, error: noError };
      case 'completed': {
        const url = outputUrl(origin, task);
        const works = [{ status: 99, type: 'm2v_motion_control', video: { resource: url, resource_without_watermark: url } }];
        return { ...common, status: 'completed', output: { type: 'm2v_motion_control', status: 99, works }, error: noError };
      }
      case 'failed':
      case 'cancelled': {
        // No cancel route here, so a cancelled task can only come from a test poking the state.
        const inputSide = fate.outcome === 'fail' && fate.providerSide === false;
        const message = fate.outcome === 'fail' && fate.message ? fate.message : 'task failed, please try again later';
        const error = inputSide
          ? { code: INPUT_ERROR_CODE, message: `content moderation failed: ${message}`, raw_message: 'risk control: input not allowed', detail: null }
          : { code: PROVIDER_ERROR_CODE, message, raw_message: 'upstream generation error', detail: null };
        return { ...common, status: 'failed', output: emptyOutput, error };
      }
    }
  }

  return app;
}

/** Start a PiAPI emulator on 127.0.0.1 (any free port). */
export function startPiapiEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createPiapiEmulatorApp, opts);
}
