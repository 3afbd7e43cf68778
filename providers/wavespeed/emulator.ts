/**
 * WaveSpeed emulator, written from PROVIDERS.md and WaveSpeed's public docs (not from the adapter)
 * so the two check each other: `Authorization: Bearer …`, `POST /api/v3/{model}` with an optional
 * `?webhook=`, `GET /api/v3/predictions/{id}/result`, every answer in `{code, message, data}`.
 */
import { randomInt, randomUUID } from 'node:crypto';
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

// ─── Protocol assumptions (documented unless marked unverified): keep them together ───────────
/** Motion-control models: std is documented, the pro id is unverified. */
const MOTION_MODELS = new Set(['kwaivgi/kling-v3.0-std/motion-control', 'kwaivgi/kling-v3.0-pro/motion-control']);
const ELEMENT_MODEL = 'kwaivgi/kling-elements-advanced';
/**
 * WaveSpeed's bill (PROVIDERS.md): an element "about $0.01/run"; the motion price is not given
 * (unverified), so $0.12/s std and $0.16/s pro per output second are placeholders. Only completed
 * predictions are billed.
 */
const BILLING: EmulatorBilling = {
  column: 'amount_usd',
  priceOf: (task) =>
    task.meta.model === ELEMENT_MODEL
      ? { perRequestMicros: toMicros(0.01) }
      : { perSecondMicros: toMicros(String(task.meta.model).includes('-pro/') ? 0.16 : 0.12) },
};
/**
 * Unverified element protocol: input `{name, description, reference_type, element_video_list}`
 * with `element_video_list` a list of video URLs when `reference_type` is `video_refer`; the
 * completed prediction's `outputs[0]` is the element record as JSON text, `element_id` a number.
 */
const ELEMENT_REFERENCE_TYPES = new Set(['image_refer', 'video_refer']);
/**
 * Unverified (WaveSpeed documents no element input for motion control): motion control takes
 * `element_list: [{element_id}]` as Kling and EvoLink do, `element_id` a number (or the id as a
 * string); only elements this account created and that finished are usable, and with an element
 * `character_orientation` must be `video`.
 */
const ELEMENT_ORIENTATION = 'video';
/** Documented failure codes inside a failed prediction; a fate's `code` is used when it is one. */
const FAILURE_CODES = new Set([1200, 1400, 1401, 1402, 1403, 1405, 5000, 5003, 5004]);
const INPUT_FAILURE_CODE = 1200;
const PROVIDER_FAILURE_CODE = 5000;
// ────────────────────────────────────────────────────────────────────────────────────────────────

type Body = Record<string, unknown>;
const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUrl = (v: unknown): boolean => typeof v === 'string' && /^https?:\/\/\S+$/.test(v);

/** Every answer, errors included, is `{code, message, data}` with `code` the HTTP status (unverified for errors). */
function envelope(c: Context, status: number, message: string, data: unknown = null): Response {
  return c.json({ code: status, message, data }, status as 200);
}

/** The first problem with a body for `model`, or null; `elementReady` says whether an element id is usable. */
function validate(model: string, body: unknown, elementReady: (id: string) => boolean): string | null {
  if (!isObject(body)) return 'request body must be a JSON object';
  if (model === ELEMENT_MODEL) {
    if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 20) return 'name: 1 to 20 characters';
    if (typeof body.description !== 'string' || body.description.length < 1 || body.description.length > 100) return 'description: 1 to 100 characters';
    if (!ELEMENT_REFERENCE_TYPES.has(body.reference_type as string)) return 'reference_type must be image_refer or video_refer';
    if (body.reference_type === 'video_refer') {
      const list = body.element_video_list;
      if (!Array.isArray(list) || list.length !== 1 || !isUrl(list[0])) return 'element_video_list must hold one video URL';
    } else if (!isUrl(body.frontal_image)) return 'frontal_image is required';
    return null;
  }
  for (const field of ['image', 'video']) if (!isUrl(body[field])) return `${field} is required and must be a URL`;
  if (body.character_orientation !== 'image' && body.character_orientation !== 'video') {
    return 'character_orientation is required: image or video';
  }
  if (body.keep_original_sound !== undefined && typeof body.keep_original_sound !== 'boolean') return 'keep_original_sound must be a boolean';
  if (body.prompt !== undefined && typeof body.prompt !== 'string') return 'prompt must be a string';
  if (body.element_list !== undefined) {
    const list = body.element_list;
    if (!Array.isArray(list) || list.length === 0) return 'element_list must be a non-empty list of {element_id}';
    for (const item of list) {
      const id = isObject(item) ? item.element_id : undefined;
      const text = typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : typeof id === 'string' && id.length > 0 ? id : undefined;
      if (text === undefined) return 'element_list: each item must be {element_id} with a numeric or string id';
      if (!elementReady(text)) return `element_list: element ${text} does not exist or is not ready`;
    }
    if (body.character_orientation !== ELEMENT_ORIENTATION) {
      return `character_orientation must be ${ELEMENT_ORIENTATION} when element_list is given`;
    }
  }
  return null;
}

/** The Hono app speaking WaveSpeed's prediction protocol over `state`. */
export function createWavespeedEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const header = c.req.header('authorization') ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!acceptsKey(state, key)) return envelope(c, 401, 'Unauthorized: invalid API key');
    return next();
  });

  function predictionOf(origin: string, task: SimTask): Body {
    const model = String(task.meta.model);
    const phase = state.phase(task);
    const status = phase === 'queued' ? 'created' : phase === 'running' ? 'processing' : phase === 'completed' ? 'completed' : 'failed';
    let outputs: unknown[] = [];
    let code = 0;
    let error = '';
    if (phase === 'completed') {
      const input = task.input as Body;
      outputs = model === ELEMENT_MODEL
        ? [`{"element_id": ${String(task.meta.elementId)}, "element_name": ${JSON.stringify(input.name)}, "element_type": ${JSON.stringify(input.reference_type)}, "element_description": ${JSON.stringify(input.description)}}`]
        : [outputUrl(origin, task)];
    } else if (phase === 'failed' || phase === 'cancelled') {
      const fate = task.fate;
      const named = fate.outcome === 'fail' && fate.code !== undefined && FAILURE_CODES.has(Number(fate.code)) ? Number(fate.code) : undefined;
      code = named ?? (fate.outcome === 'fail' && fate.providerSide === false ? INPUT_FAILURE_CODE : PROVIDER_FAILURE_CODE);
      error = (fate.outcome === 'fail' ? fate.message : undefined) ?? 'Task failed';
    }
    return {
      id: task.id,
      model,
      outputs,
      urls: { get: `${origin}/api/v3/predictions/${task.id}/result` },
      has_nsfw_contents: outputs.map(() => false),
      status,
      created_at: new Date(task.createdAt).toISOString(),
      error,
      code,
      executionTime: phase === 'completed' ? state.runMs - state.queueMs : 0,
      timings: { inference: phase === 'completed' ? state.runMs - state.queueMs : 0 },
    };
  }

  /** An element this emulator created whose prediction completed. */
  const elementReady = (id: string): boolean => {
    for (const task of state.tasks.values()) {
      if (task.meta.model === ELEMENT_MODEL && task.meta.elementId === id) return state.phase(task) === 'completed';
    }
    return false;
  };

  app.post('/api/v3/*', async (c) => {
    const model = c.req.path.slice('/api/v3/'.length);
    if (!MOTION_MODELS.has(model) && model !== ELEMENT_MODEL) return envelope(c, 404, `model ${model} not found`);
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const problem = validate(model, body, elementReady);
    if (problem) return envelope(c, 400, problem);
    const webhookUrl = c.req.query('webhook');
    const meta: Record<string, unknown> = { model, webhookUrl };
    // Kling element ids are 15-digit numbers.
    if (model === ELEMENT_MODEL) meta.elementId = `${randomInt(100_000, 1_000_000)}${randomInt(100_000_000, 1_000_000_000)}`;
    const task = state.createTask(body, meta, randomUUID().replace(/-/g, ''));
    if (webhookUrl) {
      // One delivery when the prediction ends: the bare prediction object (no envelope).
      const origin = originOf(c);
      state.webhooks.watch(task, webhookUrl, (t, phase) => (phase === 'completed' || phase === 'failed' ? [{ key: 'end', body: predictionOf(origin, t) }] : []));
    }
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return envelope(c, 200, 'success', predictionOf(originOf(c), task));
  });

  // `/result` per PROVIDERS.md; the newer docs also show the bare prediction URL.
  const result = (c: Context): Response => {
    const task = state.tasks.get(c.req.param('id') ?? '');
    if (!task) return envelope(c, 404, 'prediction not found');
    state.polls++;
    return envelope(c, 200, 'success', predictionOf(originOf(c), task));
  };
  app.get('/api/v3/predictions/:id/result', result);
  app.get('/api/v3/predictions/:id', result);

  app.all('*', (c) => envelope(c, 404, `no route for ${c.req.method} ${c.req.path}`));

  return app;
}

/** Start a WaveSpeed emulator on 127.0.0.1 (any free port). */
export function startWavespeedEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createWavespeedEmulatorApp, opts);
}
