/**
 * Kling official API emulator, written from PROVIDERS.md (not from the adapter) so the two check
 * each other. New format: `POST /motion-control/kling-3.0|kling-2.6`, `GET /tasks?task_ids=|
 * external_task_ids=` with `Bearer <api_key>`. Legacy format: `POST /v1/general/advanced-custom-elements`
 * and `GET …/{id}` with a JWT. Answers are `{code, message, request_id, data}`; errors keep that shape
 * and an injected status-200 fault answers HTTP 200 with a non-zero code.
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
  startEmulator,
  type EmulatorBilling,
} from '../emulator-kit.ts';
import { toMicros } from '../emulator-statement.ts';
import { checkApiKey, checkJwt, klingError, shapeNextFault } from './emulator-auth.ts';
import { validateElement, validateMotion } from './emulator-validate.ts';

/** Motion-control model paths the new format serves. */
const MODELS = new Set(['kling-3.0', 'kling-2.6']);
/**
 * Kling's bill (PROVIDERS.md), in units (the statement's credits; $0.14 each at list): 3.0 motion
 * control 0.9 units/s at 720p and 1.2 at 1080p, on output seconds. The element price is unverified:
 * 0.1 unit per element is a placeholder. Only succeeded tasks are billed.
 */
const BILLING: EmulatorBilling = {
  column: 'amount_credits',
  priceOf: (task) => {
    if (task.meta.kind === 'element') return { perRequestMicros: toMicros(0.1) };
    const resolution = (task.input as { settings?: { resolution?: unknown } }).settings?.resolution;
    return { perSecondMicros: toMicros(resolution === '1080p' ? 1.2 : 0.9) };
  },
};
/** Failed-task codes: input-side fates are a content-policy refusal, provider-side ones a server error. */
const INPUT_FAILURE = { code: 1301, message: 'Content security policy violation' };
const PROVIDER_FAILURE = { code: 5000, message: 'Server internal error' };

/** Kling task ids are long digit strings. */
function newTaskId(): string {
  let id = '8';
  for (let i = 0; i < 17; i++) id += String(randomInt(10));
  return id;
}

/** Element ids are numbers (kept below 2^53 here). */
function newElementId(): number {
  return 100_000_000_000 + randomInt(900_000_000_000);
}

function failureOf(task: SimTask): { code: number; message: string } {
  const fate = task.fate;
  if (fate.outcome !== 'fail') return PROVIDER_FAILURE;
  const base = fate.providerSide === false ? INPUT_FAILURE : PROVIDER_FAILURE;
  // A numeric fate code is used as is; word codes (e.g. "internal_error") are not Kling's.
  const code = fate.code !== undefined && /^\d+$/.test(fate.code) ? Number(fate.code) : base.code;
  return { code, message: fate.message ?? base.message };
}

/** The Hono app speaking Kling's official API over `state`. */
export function createKlingEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);
  const ok = (c: Context, data: unknown) => c.json({ code: 0, message: 'SUCCEED', request_id: randomUUID(), data });

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const refused = c.req.path.startsWith('/v1/') ? await checkJwt(c, state) : checkApiKey(c, state);
    return refused ?? next();
  });

  /** A task's update time as its phase says. */
  const updated = (task: SimTask, at: number): number => {
    const phase = state.phase(task, at);
    if (phase === 'queued') return task.createdAt;
    return task.createdAt + (phase === 'running' ? state.queueMs : state.runMs);
  };
  const externalTaken = (id: unknown): boolean =>
    typeof id === 'string' && [...state.tasks.values()].some((t) => t.meta.externalTaskId === id);

  /** Shared create steps: faults, body, validation, external id, task, accept-then-reset. */
  async function create(c: Context, kind: 'motion' | 'element', model: string): Promise<SimTask | Response> {
    shapeNextFault(state);
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const problem = kind === 'motion' ? validateMotion(body) : validateElement(body);
    if (problem) return klingError(c, 400, 1201, problem);
    const b = body as Record<string, unknown>;
    const options = (kind === 'motion' ? b.options : b) as Record<string, unknown> | undefined;
    const externalTaskId = options?.external_task_id as string | undefined;
    if (externalTaken(externalTaskId)) return klingError(c, 400, 1201, 'external_task_id already exists');
    const meta: Record<string, unknown> = { kind, model, externalTaskId, callbackUrl: options?.callback_url };
    if (kind === 'element') meta.elementId = newElementId();
    const task = state.createTask(body, meta, newTaskId());
    if (typeof meta.callbackUrl === 'string') watchTask(originOf(c), task, meta.callbackUrl);
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return task;
  }

  /**
   * Callbacks on each status change (PROVIDERS.md), the body the task object as the query shows
   * it then: `submitted` at create, `processing` once it runs, then the end.
   */
  function watchTask(origin: string, task: SimTask, url: string): void {
    const body = (t: SimTask, at: number) => (t.meta.kind === 'motion' ? motionItem(origin, t, at) : elementData(t, at));
    state.webhooks.watch(task, url, (t, phase) => {
      const startedAt = t.createdAt + state.queueMs;
      const events = [{ key: 'submitted', body: body(t, t.createdAt) }];
      if (phase !== 'queued' && state.phase(t, startedAt) === 'running') events.push({ key: 'processing', body: body(t, startedAt) });
      if (phase === 'completed' || phase === 'failed' || phase === 'cancelled') events.push({ key: 'end', body: body(t, state.now()) });
      return events;
    });
  }

  app.post('/motion-control/:model', async (c) => {
    const model = c.req.param('model');
    if (!MODELS.has(model)) return klingError(c, 404, 1202, `unknown model ${model}`);
    const task = await create(c, 'motion', model);
    if (task instanceof Response) return task;
    return ok(c, { id: task.id, status: 'submitted', create_time: task.createdAt, update_time: task.createdAt, external_id: task.meta.externalTaskId ?? null });
  });

  const STATUS = { queued: 'submitted', running: 'processing', completed: 'succeeded', failed: 'failed', cancelled: 'failed' } as const;

  /** A motion task as the query lists it (and a callback would send it). */
  function motionItem(origin: string, task: SimTask, at: number = state.now()): Record<string, unknown> {
    const phase = state.phase(task, at);
    const item: Record<string, unknown> = {
      id: task.id,
      status: STATUS[phase],
      message: '',
      external_id: task.meta.externalTaskId ?? null,
      create_time: task.createdAt,
      update_time: updated(task, at),
      outputs: [],
      billing: [],
    };
    if (phase === 'completed') {
      const seconds = String(state.durationOf(task));
      const reported = state.reportsDuration(task);
      item.outputs = [{ type: 'video', url: outputUrl(origin, task), ...(reported ? { duration: seconds } : {}) }];
      if (reported) item.billing = [{ type: 'video_duration', resolution: resolutionOf(task), quantity: seconds }];
    } else if (phase === 'failed' || phase === 'cancelled') {
      Object.assign(item, failureOf(task));
    }
    return item;
  }

  const resolutionOf = (task: SimTask): unknown => ((task.input as { settings?: { resolution?: unknown } }).settings ?? {}).resolution;
  const idsOf = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  app.get('/tasks', (c) => {
    const byId = idsOf(c.req.query('task_ids'));
    const byExternal = idsOf(c.req.query('external_task_ids'));
    if (byId.length === 0 && byExternal.length === 0) return klingError(c, 400, 1201, 'task_ids or external_task_ids is required');
    state.polls++;
    const found = [...state.tasks.values()].filter(
      (t) => t.meta.kind === 'motion' && (byId.includes(t.id) || byExternal.includes(String(t.meta.externalTaskId))),
    );
    return ok(c, found.map((t) => motionItem(originOf(c), t)));
  });

  app.post('/v1/general/advanced-custom-elements', async (c) => {
    const task = await create(c, 'element', 'advanced-custom-elements');
    if (task instanceof Response) return task;
    return ok(c, {
      task_id: task.id,
      task_status: 'submitted',
      task_info: { external_task_id: task.meta.externalTaskId ?? null },
      created_at: task.createdAt,
      updated_at: task.createdAt,
    });
  });

  app.get('/v1/general/advanced-custom-elements/:id', (c) => {
    const task = state.tasks.get(c.req.param('id'));
    if (!task || task.meta.kind !== 'element') return klingError(c, 404, 1203, 'The requested task does not exist');
    state.polls++;
    return ok(c, elementData(task));
  });

  /** An element task as its query shows it (and a callback sends it) at `at`. */
  function elementData(task: SimTask, at: number = state.now()): Record<string, unknown> {
    const phase = state.phase(task, at);
    const input = task.input as { element_name?: string; element_description?: string };
    const data: Record<string, unknown> = {
      task_id: task.id,
      task_status: { queued: 'submitted', running: 'processing', completed: 'succeed', failed: 'failed', cancelled: 'failed' }[phase],
      task_status_msg: '',
      task_info: { external_task_id: task.meta.externalTaskId ?? null },
      task_result: {},
      created_at: task.createdAt,
      updated_at: updated(task, at),
    };
    if (phase === 'completed') {
      data.task_result = {
        elements: [{ element_id: task.meta.elementId, element_name: input.element_name, element_description: input.element_description, reference_type: 'video_refer' }],
      };
    } else if (phase === 'failed' || phase === 'cancelled') {
      const f = failureOf(task);
      data.code = f.code;
      data.task_status_msg = f.message;
    }
    return data;
  }

  app.notFound((c) => klingError(c, 404, 1202, `no route ${c.req.method} ${c.req.path}`));
  return app;
}

/** Start a Kling emulator on 127.0.0.1 (any free port). */
export function startKlingEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createKlingEmulatorApp, opts);
}
