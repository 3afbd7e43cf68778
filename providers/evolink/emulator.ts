/**
 * EvoLink emulator, written from PROVIDERS.md, CONTRACT.md §3 and EvoLink's public docs (not from
 * the adapter) so the two check each other: `Authorization: Bearer …`, `POST /v1/videos/generations`
 * with CONTRACT.md §3 bodies, `GET /v1/tasks/{id}` with task objects, string error codes, and error
 * bodies `{error: {code, message, type}}`.
 */
import { randomInt } from 'node:crypto';
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

// ─── Protocol assumptions (EvoLink docs; unverified ones marked) ──────────────────────────────
const MOTION = 'kling-v3-motion-control';
const ELEMENT = 'kling-custom-element';
/** Task ids look like `task-unified-1756817821-4x3rx6ny`; other ids answer 400 invalid_task_id. */
const ID_PREFIX = 'task-unified-';
/** Documented task error codes; a fate's `code` is used only when it is one of these. */
const TASK_ERROR_CODES = new Set([
  'content_policy_violation', 'invalid_parameters', 'image_processing_error', 'image_dimension_mismatch',
  'request_cancelled', 'generation_failed_no_content', 'service_error', 'generation_timeout',
  'resource_exhausted', 'quota_exceeded', 'service_unavailable', 'resource_not_found', 'unknown_error',
]);
/** Failure code per fate when the fate names none of the above. */
const INPUT_FAILURE_CODE = 'content_policy_violation';
const PROVIDER_FAILURE_CODE = 'service_error';
/** Unverified: the answer for a well-formed id nobody created. */
const NOT_FOUND = { status: 404, code: 'task_not_found', type: 'invalid_request_error' } as const;
/** Credits reserved per task (1 credit ≈ $0.0139): per output second for motion, one per element. */
const CREDITS_PER_SECOND = { '720p': 8.16, '1080p': 10.88 } as const;
/**
 * EvoLink's bill (PROVIDERS.md), in USD: motion control $0.1134/s at 720p and $0.1512/s at 1080p,
 * on output seconds; an element $0.0139 (1 credit). A failed element is refunded in full and a
 * failed motion task produced nothing, so only completed tasks are on the statement.
 */
const BILLING: EmulatorBilling = {
  column: 'amount_usd',
  priceOf: (task) =>
    task.meta.model === ELEMENT
      ? { perRequestMicros: toMicros(0.0139) }
      : { perSecondMicros: toMicros(task.meta.quality === '1080p' ? 0.1512 : 0.1134) },
};
// ────────────────────────────────────────────────────────────────────────────────────────────────

type Issue = { param: string; message: string };
type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUrl = (v: unknown): boolean => typeof v === 'string' && /^https?:\/\/\S+$/.test(v);

function errorJson(c: Context, status: number, code: string, message: string, type: string, param?: string): Response {
  return c.json({ error: { code, message, type, ...(param ? { param } : {}) } }, status as 400);
}

/** Validate a create body per CONTRACT.md §3; `elementKnown` says whether an element id exists here. */
function validate(b: unknown, elementKnown: (id: string) => boolean): Issue | null {
  if (!isObject(b)) return { param: 'body', message: 'request body must be a JSON object' };
  const params = b.model_params;
  if (params !== undefined && !isObject(params)) return { param: 'model_params', message: 'model_params must be an object' };
  const p: Body = params ?? {};
  if (b.callback_url !== undefined && (!isUrl(b.callback_url) || String(b.callback_url).length > 2048)) {
    return { param: 'callback_url', message: 'callback_url must be a URL of at most 2048 characters' };
  }
  if (b.model === ELEMENT) {
    const name = p.element_name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 20) {
      return { param: 'model_params.element_name', message: 'model_params.element_name: 1 to 20 characters' };
    }
    const desc = p.element_description;
    if (typeof desc !== 'string' || desc.length < 1 || desc.length > 100) {
      return { param: 'model_params.element_description', message: 'model_params.element_description: 1 to 100 characters' };
    }
    if (p.reference_type !== 'video_refer') return { param: 'model_params.reference_type', message: 'reference_type must be video_refer' };
    const list = p.element_video_list;
    if (!isObject(list) || !isUrl(list.video_url)) {
      return { param: 'model_params.element_video_list.video_url', message: 'element_video_list.video_url must be a URL' };
    }
    return null;
  }
  if (b.model !== MOTION) return { param: 'model', message: `model must be ${MOTION} or ${ELEMENT}` };
  for (const field of ['image_urls', 'video_urls']) {
    const v = b[field];
    if (!Array.isArray(v) || v.length !== 1 || !isUrl(v[0])) return { param: field, message: `${field} must hold exactly one URL` };
  }
  if (b.quality !== undefined && b.quality !== '720p' && b.quality !== '1080p') return { param: 'quality', message: 'quality must be 720p or 1080p' };
  if (b.prompt !== undefined && (typeof b.prompt !== 'string' || b.prompt.length > 2500)) {
    return { param: 'prompt', message: 'prompt must be a string of at most 2500 characters' };
  }
  const orientation = p.character_orientation;
  if (orientation !== undefined && orientation !== 'image' && orientation !== 'video') {
    return { param: 'model_params.character_orientation', message: 'character_orientation must be image or video' };
  }
  if (p.keep_original_sound !== undefined && typeof p.keep_original_sound !== 'boolean') {
    return { param: 'model_params.keep_original_sound', message: 'keep_original_sound must be a boolean' };
  }
  if (p.element_list !== undefined) {
    const list = p.element_list;
    if (!Array.isArray(list)) return { param: 'model_params.element_list', message: 'element_list must be a list' };
    for (const e of list) {
      const id = isObject(e) ? e.element_id : undefined;
      if (typeof id !== 'string' || !elementKnown(id)) {
        return { param: 'model_params.element_list', message: `element ${String(id)} does not exist for this account` };
      }
    }
  }
  return null;
}

function taskId(now: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const tail = Array.from({ length: 8 }, () => alphabet[randomInt(alphabet.length)]).join('');
  return `${ID_PREFIX}${Math.floor(now / 1000)}-${tail}`;
}

/** The Hono app speaking EvoLink's task protocol over `state`. */
export function createEvolinkEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const header = c.req.header('authorization') ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!acceptsKey(state, key)) {
      return errorJson(c, 401, 'unauthorized', 'Invalid or missing API key', 'authentication_error');
    }
    return next();
  });

  /** Element ids of element tasks that completed on this emulator (elements belong to one account). */
  const elementKnown = (id: string): boolean =>
    [...state.tasks.values()].some((t) => t.meta.elementId === id && state.phase(t) === 'completed');

  function taskObject(origin: string, task: SimTask): Body {
    const model = String(task.meta.model);
    const quality = (task.meta.quality as '720p' | '1080p' | undefined) ?? '720p';
    const phase = state.phase(task);
    const created = Math.floor(task.createdAt / 1000);
    const status = phase === 'queued' ? 'pending' : phase === 'running' ? 'processing' : phase === 'completed' ? 'completed' : 'failed';
    const progress = phase === 'queued' ? 0 : phase === 'completed' ? 100 : phase === 'running' ? state.progress(task) : 0;
    // Reserved for the longest output (10 s) until the real length is known.
    const credits = model === ELEMENT ? 1 : Number((CREDITS_PER_SECOND[quality] * 10).toFixed(2));
    const out: Body = {
      created,
      id: task.id,
      model,
      object: 'video.generation.task',
      progress,
      status,
      type: 'video',
      task_info: { can_cancel: status === 'pending', estimated_time: Math.ceil(state.runMs / 1000) },
      usage: { billing_rule: model === ELEMENT ? 'per_call' : 'per_second', credits_reserved: credits, user_group: 'default' },
    };
    if (phase === 'completed') {
      if (model === ELEMENT) out.result_data = { element_id: String(task.meta.elementId) };
      else out.results = [outputUrl(origin, task)];
    }
    if (phase === 'cancelled') out.error = { code: 'request_cancelled', message: 'Request was cancelled' };
    if (phase === 'failed' && task.fate.outcome === 'fail') {
      const named = task.fate.code !== undefined && TASK_ERROR_CODES.has(task.fate.code) ? task.fate.code : undefined;
      const code = named ?? (task.fate.providerSide === false ? INPUT_FAILURE_CODE : PROVIDER_FAILURE_CODE);
      out.error = { code, message: task.fate.message ?? 'Task failed' };
    }
    return out;
  }

  app.post('/v1/videos/generations', async (c) => {
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const issue = validate(body, elementKnown);
    if (issue) return errorJson(c, 400, 'invalid_parameters', issue.message, 'invalid_request_error', issue.param);
    const b = body as Body;
    const meta: Record<string, unknown> = { model: b.model, callbackUrl: b.callback_url };
    if (b.model === MOTION) meta.quality = b.quality ?? '720p';
    // Kling element ids are 15-digit numbers; EvoLink hands them out as strings.
    else meta.elementId = `${randomInt(100_000, 1_000_000)}${randomInt(100_000_000, 1_000_000_000)}`;
    const task = state.createTask(body, meta, taskId(state.now()));
    if (typeof b.callback_url === 'string') {
      // One callback, after billing (PROVIDERS.md): the task object as the poll shows it at the end.
      const origin = originOf(c);
      state.webhooks.watch(task, b.callback_url, (t, phase) => (phase === 'queued' || phase === 'running' ? [] : [{ key: 'end', body: taskObject(origin, t) }]));
    }
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return c.json(taskObject(originOf(c), task));
  });

  app.get('/v1/tasks/:id', (c) => {
    const id = c.req.param('id');
    if (!id.startsWith(ID_PREFIX)) {
      return errorJson(c, 400, 'invalid_task_id', `Invalid task ID format, must start with '${ID_PREFIX}'`, 'invalid_request_error', 'task_id');
    }
    const task = state.tasks.get(id);
    if (!task) return errorJson(c, NOT_FOUND.status, NOT_FOUND.code, 'Task not found', NOT_FOUND.type, 'task_id');
    state.polls++;
    return c.json(taskObject(originOf(c), task));
  });

  app.all('*', (c) => errorJson(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`, 'invalid_request_error'));

  return app;
}

/** Start an EvoLink emulator on 127.0.0.1 (any free port). */
export function startEvolinkEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createEvolinkEmulatorApp, opts);
}
