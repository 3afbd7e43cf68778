/**
 * kie.ai jobs API emulator, written from PROVIDERS.md (not from the adapter) so the two check each
 * other: `Authorization: Bearer …`, `POST /api/v1/jobs/createTask`, `GET /api/v1/jobs/recordInfo`,
 * a `{code, msg, data}` envelope, and `resultJson` as a JSON *string*.
 *
 * Everything kie itself refuses (bad key, bad body, unknown task) answers **HTTP 200 with the code
 * in the body**, the way kie reports errors; only the kit's injected submit faults answer with a
 * real HTTP status, standing for a proxy or load balancer in front of kie.
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

/** Models this emulator serves: the 3.0 one the gateway uses, and the documented 2.6 one. */
const MODELS = new Set(['kling-3.0/motion-control', 'kling-2.6/motion-control']);
/** kie takes the resolution as `mode`; the std/pro words other providers use are refused. */
const MODES = new Set(['720p', '1080p']);
/**
 * kie's bill (PROVIDERS.md): credits per output second (1 credit = $0.005), 11 at 720p and 18 at
 * 1080p (the 2.6 prices; 3.0 unverified, assumed equal), so the statement is in credits. Only
 * successful tasks are billed (a failed one produces no output).
 */
const BILLING: EmulatorBilling = {
  column: 'amount_credits',
  priceOf: (task) => ({ perSecondMicros: toMicros((task.input as { input?: { mode?: unknown } }).input?.mode === '1080p' ? 18 : 11) }),
};
/**
 * How an emulated failure looks (unverified, kie publishes no failCode list): an input-side fate
 * (`providerSide: false`) fails with failCode "400" and a content-policy message; a provider-side
 * one with failCode "500". The fate's own `code` is not used, so generic fates cannot produce codes
 * kie does not have.
 */
const INPUT_FAIL_CODE = '400';
const PROVIDER_FAIL_CODE = '500';

/** kie's envelope, always HTTP 200 (see the file comment). */
function answer(c: Context, code: number, msg: string, data: unknown = null): Response {
  return c.json({ code, msg, data });
}

/** Check a createTask body the way kie's validation would; null when valid, else the message. */
function validate(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'request body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !MODELS.has(b.model)) return `model is not supported: ${String(b.model)}`;
  if (b.callBackUrl !== undefined && typeof b.callBackUrl !== 'string') return 'callBackUrl must be a string';
  const input = b.input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'input is required';
  const i = input as Record<string, unknown>;
  for (const field of ['input_urls', 'video_urls']) {
    const v = i[field];
    if (!Array.isArray(v) || v.length !== 1 || typeof v[0] !== 'string' || v[0].length === 0) {
      return `input.${field} must hold exactly one URL`;
    }
  }
  if (i.character_orientation !== 'image' && i.character_orientation !== 'video') {
    return 'input.character_orientation must be image or video';
  }
  if (typeof i.mode !== 'string' || !MODES.has(i.mode)) return `input.mode must be 720p or 1080p, got ${String(i.mode)}`;
  if (i.prompt !== undefined && typeof i.prompt !== 'string') return 'input.prompt must be a string';
  return null;
}

/** The Hono app speaking kie's jobs protocol over `state`. */
export function createKieEmulatorApp(state: EmulatorState): Hono {
  const app = new Hono();
  mountCommon(app, state, BILLING);

  app.use('*', async (c, next) => {
    if (c.req.path.startsWith('/__')) return next();
    const header = c.req.header('authorization') ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!acceptsKey(state, key)) return answer(c, 401, 'You do not have access permissions');
    return next();
  });

  app.post('/api/v1/jobs/createTask', async (c) => {
    const faulted = await applySubmitFault(c, state);
    if (faulted) return faulted;
    const body = await readCreateBody(c, state);
    const problem = validate(body);
    if (problem) return answer(c, 422, problem);
    const b = body as { model: string; callBackUrl?: string };
    // kie task ids are 32 hex characters.
    const task = state.createTask(body, { model: b.model, callBackUrl: b.callBackUrl }, randomUUID().replace(/-/g, ''));
    if (typeof b.callBackUrl === 'string') {
      // One callback when the task ends (unverified shape: the recordInfo envelope).
      const origin = originOf(c);
      state.webhooks.watch(task, b.callBackUrl, (t, phase) =>
        phase === 'queued' || phase === 'running' ? [] : [{ key: 'end', body: { code: 200, msg: 'success', data: recordOf(origin, t) } }],
      );
    }
    if (takeAcceptThenReset(state)) return resetConnection(c);
    return answer(c, 200, 'success', { taskId: task.id });
  });

  app.get('/api/v1/jobs/recordInfo', (c) => {
    state.polls++;
    const task = state.tasks.get(c.req.query('taskId') ?? '');
    if (!task) return answer(c, 404, 'task not found');
    return answer(c, 200, 'success', recordOf(originOf(c), task));
  });

  /** The task record recordInfo returns, its state words mapped from the kit's phase. */
  function recordOf(origin: string, task: SimTask): Record<string, unknown> {
    const phase = state.phase(task);
    const fate = task.fate;
    const now = state.now();
    const finished = phase === 'completed' || phase === 'failed' || phase === 'cancelled';
    const common = {
      taskId: task.id,
      model: String(task.meta.model),
      param: JSON.stringify(task.input),
      createTime: task.createdAt,
      updateTime: now,
      completeTime: finished ? task.createdAt + state.runMs : null,
      costTime: finished ? state.runMs - state.queueMs : null,
      resultJson: '',
      failCode: '',
      failMsg: '',
    };
    switch (phase) {
      case 'queued':
        // kie shows `waiting` first, then `queuing`; both are before generation.
        return { ...common, state: now - task.createdAt < state.queueMs / 2 ? 'waiting' : 'queuing' };
      case 'running':
        return { ...common, state: 'generating' };
      case 'completed':
        return { ...common, state: 'success', resultJson: JSON.stringify({ resultUrls: [outputUrl(origin, task)] }) };
      case 'failed':
      case 'cancelled': {
        // kie has no cancel, so a cancelled task can only come from a test poking the state: a failure.
        const inputSide = fate.outcome === 'fail' && fate.providerSide === false;
        const message = fate.outcome === 'fail' && fate.message ? fate.message : 'Internal error, please try again later';
        return {
          ...common,
          state: 'fail',
          failCode: inputSide ? INPUT_FAIL_CODE : PROVIDER_FAIL_CODE,
          failMsg: inputSide ? `Content policy violation: ${message}` : message,
        };
      }
    }
  }

  return app;
}

/** Start a kie.ai emulator on 127.0.0.1 (any free port). */
export function startKieEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator(createKieEmulatorApp, opts);
}
