/**
 * fal queue API emulator, written from PROVIDERS.md (not from the adapter) so the two check each
 * other: `Authorization: Key …`, submit `POST /{model_id}`, status/result/cancel only under the
 * app's `owner/alias` (`/fal-ai/kling-video/requests/{id}`, as fal's own client builds them), the
 * submit answer carrying those URLs, FastAPI-style 422s, and finished requests that can carry an error.
 */
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

/** Model ids this emulator serves (PROVIDERS.md: standard = 720p, pro = 1080p). */
const MODEL_IDS = new Set(['fal-ai/kling-video/v3/standard/motion-control', 'fal-ai/kling-video/v3/pro/motion-control']);
/**
 * fal's bill (PROVIDERS.md): USD per output second, $0.126 standard; pro is unverified, $0.168
 * assumed. Only completed requests are billed (failed or cancelled ones produce no output).
 */
const BILLING: EmulatorBilling = {
  column: 'amount_usd',
  priceOf: (task) => ({ perSecondMicros: toMicros(String(task.meta.modelId).includes('/pro/') ? 0.168 : 0.126) }),
};
/** A model id's app, `owner/alias`: the prefix of every request URL. */
const appOf = (modelId: string): string => modelId.split('/').slice(0, 2).join('/');

/**
 * How an emulated failure looks: an input-side fate (`providerSide: false`) is a model error of
 * type `content_policy_violation` (result answers 422 with a `detail` list); a provider-side one is
 * a request error `runner_server_error` (result answers 500 with a flat `error_type`). The fate's
 * `code` is not used as the type, so generic fates cannot produce types fal does not have.
 */
const INPUT_ERROR_TYPE = 'content_policy_violation';
const PROVIDER_ERROR_TYPE = 'runner_server_error';

type Issue = { loc: string[]; msg: string; type: string };

/** Check the motion-control input the way fal's pydantic schema would. */
function validate(body: unknown): Issue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ loc: ['body'], msg: 'Input should be a valid dictionary', type: 'dict_type' }];
  }
  const b = body as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const field of ['image_url', 'video_url']) {
    if (b[field] === undefined) issues.push({ loc: ['body', field], msg: 'Field required', type: 'missing' });
    else if (typeof b[field] !== 'string') issues.push({ loc: ['body', field], msg: 'Input should be a valid string', type: 'string_type' });
  }
  const orientation = b.character_orientation;
  if (orientation === undefined) issues.push({ loc: ['body', 'character_orientation'], msg: 'Field required', type: 'missing' });
  else if (orientation !== 'image' && orientation !== 'video') {
    issues.push({ loc: ['body', 'character_orientation'], msg: "Input should be 'image' or 'video'", type: 'literal_error' });
  }
  if (b.keep_original_sound !== undefined && typeof b.keep_original_sound !== 'boolean') {
    issues.push({ loc: ['body', 'keep_original_sound'], msg: 'Input should be a valid boolean', type: 'bool_type' });
  }
  if (b.prompt !== undefined && typeof b.prompt !== 'string') {
    issues.push({ loc: ['body', 'prompt'], msg: 'Input should be a valid string', type: 'string_type' });
  }
  return issues;
}

/** The Hono app speaking fal's queue protocol over `state`. */
export function createFalEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  /** Creation times in order (the clock only moves forward), for O(log n) queue positions. */
  const created: number[] = [];
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const header = c.req.header('authorization') ?? '';
    const key = header.startsWith('Key ') ? header.slice(4).trim() : '';
    if (!acceptsKey(state, key)) {
      return c.json({ detail: 'Authentication is required to access this resource' }, 401);
    }
    return next();
  });

  const urls = (c: Context, task: SimTask) => {
    const base = `${originOf(c)}/${appOf(String(task.meta.modelId))}/requests/${task.id}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  };

  app.post('/*', async (c) => {
    const modelId = c.req.path.slice(1);
    if (!MODEL_IDS.has(modelId)) return c.json({ detail: `Application '${modelId}' not found` }, 404);
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const issues = validate(body);
    if (issues.length > 0) return c.json({ detail: issues.map((i) => ({ ...i, url: 'https://docs.fal.ai/errors' })) }, 422);
    const webhookUrl = c.req.query('fal_webhook');
    const task = state.createTask(body, { modelId, webhookUrl });
    created.push(task.createdAt);
    if (webhookUrl) watchTask(originOf(c), task, webhookUrl);
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return c.json({ status: 'IN_QUEUE', request_id: task.id, queue_position: queuePosition(task), ...urls(c, task) });
  });

  /**
   * Resolve `/{owner}/{alias}/requests/{id}[/suffix]` to a task created under that app. The full
   * model id (`…/v3/standard/motion-control/requests/…`) is not a path fal serves: 404.
   */
  function route(c: Context, suffix: '' | '/status' | '/cancel'): SimTask | Response {
    const m = /^\/([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(c.req.path);
    if (!m || (m[3] ?? '') !== suffix) return c.json({ detail: 'Not Found' }, 404);
    const task = state.tasks.get(m[2] ?? '');
    if (!task || m[1] !== appOf(String(task.meta.modelId))) return c.json({ detail: 'Request not found' }, 404);
    return task;
  }

  /** Tasks created before this one and still queued: creation times are sorted, so two binary searches. */
  function queuePosition(task: SimTask): number {
    return Math.max(0, lowerBound(created, task.createdAt) - lowerBound(created, state.now() - state.queueMs + 1));
  }

  app.get('/*', (c) => {
    const isStatus = c.req.path.endsWith('/status');
    const task = route(c, isStatus ? '/status' : '');
    if (task instanceof Response) return task;
    const phase = state.phase(task);
    const fate = task.fate;
    if (isStatus) {
      state.polls++;
      const common = { request_id: task.id, ...urls(c, task) };
      if (phase === 'queued') return c.json({ status: 'IN_QUEUE', queue_position: queuePosition(task), ...common }, 202);
      if (phase === 'running') return c.json({ status: 'IN_PROGRESS', logs: [], ...common }, 202);
      const done = { status: 'COMPLETED', logs: [], metrics: { inference_time: (state.runMs - state.queueMs) / 1000 }, ...common };
      if (phase === 'cancelled') return c.json({ ...done, error: 'Request was cancelled', error_type: 'client_cancelled' });
      if (phase === 'failed' && fate.outcome === 'fail') {
        const type = fate.providerSide === false ? INPUT_ERROR_TYPE : PROVIDER_ERROR_TYPE;
        return c.json({ ...done, error: fate.message ?? 'Request failed', error_type: type });
      }
      return c.json(done);
    }
    if (phase === 'queued' || phase === 'running') return c.json({ detail: 'Request is still in progress' }, 400);
    const { status, body } = resultOf(originOf(c), task);
    if (status === 500) c.header('x-fal-error-type', PROVIDER_ERROR_TYPE);
    return c.json(body, status as 200);
  });

  /** A finished request's result: what its response URL answers (and its webhook's payload). */
  function resultOf(origin: string, task: SimTask): { status: number; body: object } {
    const fate = task.fate;
    if (state.phase(task) === 'cancelled') return { status: 499, body: { detail: 'Request was cancelled', error_type: 'client_cancelled' } };
    if (fate.outcome === 'fail') {
      const message = fate.message ?? 'Request failed';
      if (fate.providerSide === false) {
        const detail = [{ loc: ['body'], msg: message, type: INPUT_ERROR_TYPE, url: `https://docs.fal.ai/errors#${INPUT_ERROR_TYPE}` }];
        return { status: 422, body: { detail } };
      }
      return { status: 500, body: { detail: message, error_type: PROVIDER_ERROR_TYPE } };
    }
    const video = {
      url: outputUrl(origin, task),
      content_type: 'video/mp4',
      file_name: `${task.id}.mp4`,
      ...(state.reportsDuration(task) ? { duration: state.durationOf(task) } : {}),
    };
    return { status: 200, body: { video } };
  }

  /** fal's webhook (PROVIDERS.md): once, when the request ends; none for a request we cancelled. */
  function watchTask(origin: string, task: SimTask, url: string): void {
    state.webhooks.watch(task, url, (t, phase) => {
      if (phase !== 'completed' && phase !== 'failed') return [];
      const { status, body } = resultOf(origin, t);
      const ok = status === 200;
      const hook = { request_id: t.id, gateway_request_id: t.id, status: ok ? 'OK' : 'ERROR', payload: body, error: ok ? null : `Invalid status code: ${status}` };
      return [{ key: 'end', body: hook }];
    });
  }

  app.put('/*', (c) => {
    const task = route(c, '/cancel');
    if (task instanceof Response) return task;
    const phase = state.phase(task);
    if (phase !== 'queued' && phase !== 'running') return c.json({ status: 'ALREADY_COMPLETED' }, 400);
    task.cancelled = true;
    state.cancels++;
    return c.json({ status: 'CANCELLATION_REQUESTED' }, 202);
  });

  return app;
}

/** Start a fal emulator on 127.0.0.1 (any free port). */
export function startFalEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createFalEmulatorApp, opts);
}

/** First index in sorted `xs` whose value is ≥ `x`. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
