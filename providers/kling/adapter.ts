/**
 * Kling official API adapter. Motion control uses the new format (`/motion-control/kling-3.0`,
 * `Bearer <api_key>`); custom elements use the legacy format (`/v1/general/…`, `Bearer <JWT>` signed
 * from access_key/secret_key). Every answer's `code` is checked, even on HTTP 200.
 *
 * Assumptions and readings (paths, prices, the code table, failed-task codes) live in one block at
 * the top of ./protocol.ts.
 */
import { SignJWT } from 'jose';
import { joinUrl, kindForStatus, sendJson, type JsonResponse } from '../http.ts';
import {
  ProviderError,
  type AdapterFactory,
  type AdapterOptions,
  type CanonicalModel,
  type CreateInput,
  type CreateResult,
  type ElementRequest,
  type MotionRequest,
  type ProviderAdapter,
  type Quality,
  type TaskRef,
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';
import {
  KLING,
  createdElement,
  createdTask,
  elementStatus,
  elementTask,
  envelope,
  kindForCode,
  motionStatus,
  parseLossless,
  stateOf,
  taskItem,
} from './protocol.ts';

type Phase = 'create' | 'read';

function badShape(what: string, res: JsonResponse): ProviderError {
  return new ProviderError('bad_response', `kling ${what} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
}

/**
 * Check an answer's envelope and return its `data`. A non-zero `code` decides the kind whatever the
 * HTTP status; without a code, a non-2xx status decides; a 2xx answer without a code is malformed.
 */
function readData(res: JsonResponse, what: string, phase: Phase, body: unknown = res.body): unknown {
  const env = envelope.safeParse(body);
  const code = env.success ? env.data.code : undefined;
  const message = env.success && env.data.message ? `: ${env.data.message}` : '';
  if (code !== undefined && code !== 0) {
    let kind = kindForCode(code) ?? (res.status >= 300 ? kindForStatus(res.status) : 'bad_response');
    // On a create, a "not found" code means something the input names (an element) does not exist.
    if (phase === 'create' && kind === 'not_found') kind = 'invalid_request';
    return fail(kind, `kling ${what} answered code ${code} (HTTP ${res.status})${message}`, res.status, String(code));
  }
  if (res.status < 200 || res.status >= 300) {
    let kind = kindForStatus(res.status);
    // A bare 404 on a create: the path does not exist on this upstream, its problem, not the input's.
    if (phase === 'create' && kind === 'not_found') kind = 'unavailable';
    return fail(kind, `kling ${what} answered HTTP ${res.status}${message}`, res.status, undefined);
  }
  if (!env.success) throw badShape(what, res);
  return env.data.data;
}

function fail(kind: ProviderError['kind'], message: string, status: number, code: string | undefined): never {
  throw new ProviderError(kind, message, { status, ...(code !== undefined ? { code } : {}) });
}

/** The new-format create body. */
function motionBody(req: MotionRequest, input: CreateInput): Record<string, unknown> {
  const contents: Record<string, unknown>[] = [];
  if (req.prompt !== undefined && req.prompt.length > 0) contents.push({ type: 'prompt', text: req.prompt });
  contents.push({ type: 'image', url: req.imageUrl }, { type: 'video', url: req.videoUrl });
  (req.elementIds ?? []).forEach((id, i) => contents.push(KLING.elementItem(id, i)));
  return {
    contents,
    settings: { character_orientation: req.orientation, audio: req.keepOriginalSound ? 'original' : 'off', resolution: req.quality },
    options: { ...(input.webhookUrl ? { callback_url: input.webhookUrl } : {}), external_task_id: input.attemptId },
  };
}

/** The legacy element-creation body. */
function elementBody(req: ElementRequest, input: CreateInput): Record<string, unknown> {
  return {
    element_name: req.name,
    element_description: req.description,
    reference_type: req.referenceType,
    element_video_list: { refer_videos: [{ video_url: req.videoUrl }] },
    ...(input.webhookUrl ? { callback_url: input.webhookUrl } : {}),
    external_task_id: input.attemptId,
  };
}

/** Adapter for Kling's official API. */
export function createKlingAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? KLING.defaultBaseUrl;
  const now = options.now ?? Date.now;
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  let jwt: { token: string; exp: number } | undefined;

  function apiKeyHeaders(): Record<string, string> {
    if (!options.apiKey) throw new ProviderError('auth', 'kling motion control needs api_key (new-format API)');
    return { authorization: `Bearer ${options.apiKey}` };
  }

  /** `Bearer <JWT>` for the legacy API, re-signed when it is close to expiring (injected clock). */
  async function jwtHeaders(): Promise<Record<string, string>> {
    const { accessKey, secretKey } = options;
    if (!accessKey || !secretKey) throw new ProviderError('auth', 'kling element creation needs access_key and secret_key (legacy API)');
    const nowS = Math.floor(now() / 1000);
    if (!jwt || jwt.exp - nowS < KLING.jwtRenewBeforeS) {
      const exp = nowS + KLING.jwtLifetimeS;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(accessKey)
        .setExpirationTime(exp)
        .setNotBefore(nowS - KLING.jwtNotBeforeSkewS)
        .sign(new TextEncoder().encode(secretKey));
      jwt = { token, exp };
    }
    return { authorization: `Bearer ${jwt.token}` };
  }

  /** Query new-format tasks by `task_ids` or `external_task_ids`. */
  async function queryTasks(param: 'task_ids' | 'external_task_ids', id: string): Promise<unknown[]> {
    const url = `${joinUrl(base, KLING.queryPath)}?${param}=${encodeURIComponent(id)}`;
    const res = await sendJson({ method: 'GET', url, headers: apiKeyHeaders(), timeoutMs: readTimeout });
    const data = readData(res, 'query', 'read');
    if (!Array.isArray(data)) throw badShape('query', res);
    return data;
  }

  function itemStatus(raw: unknown, res: string): UpstreamStatus & { upstreamId: string } {
    const parsed = taskItem.safeParse(raw);
    const status = parsed.success ? motionStatus(parsed.data) : null;
    if (!parsed.success || !status) throw new ProviderError('bad_response', `kling ${res} answer has an unexpected task shape`);
    return { upstreamId: parsed.data.id, ...status };
  }

  async function createMotion(req: MotionRequest, input: CreateInput): Promise<CreateResult> {
    const headers = apiKeyHeaders();
    const res = await sendJson({ method: 'POST', url: joinUrl(base, KLING.motionPath), headers, body: motionBody(req, input), timeoutMs: createTimeout });
    const parsed = createdTask.safeParse(readData(res, 'create', 'create'));
    if (!parsed.success) throw badShape('create', res);
    const state = stateOf(parsed.data.status);
    // A create answer is not a place to end a task: anything past "processing" is re-read by polling.
    return { upstreamId: parsed.data.id, state: state === 'processing' ? 'processing' : 'pending' };
  }

  async function createElement(req: ElementRequest, input: CreateInput): Promise<CreateResult> {
    const headers = await jwtHeaders();
    const res = await sendJson({ method: 'POST', url: joinUrl(base, KLING.elementPath), headers, body: elementBody(req, input), timeoutMs: createTimeout });
    const parsed = createdElement.safeParse(readData(res, 'element create', 'create'));
    if (!parsed.success) throw badShape('element create', res);
    return { upstreamId: parsed.data.task_id, state: stateOf(parsed.data.task_status) === 'processing' ? 'processing' : 'pending' };
  }

  return {
    type: 'kling',
    capabilities: { models: ['kling-v3-motion-control', 'kling-custom-element'], cancel: false, lookup: true, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      return req.model === 'kling-custom-element' ? createElement(req, input) : createMotion(req, input);
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      if (ref.model === 'kling-custom-element') {
        const url = joinUrl(base, KLING.elementQueryPath(ref.upstreamId));
        const res = await sendJson({ method: 'GET', url, headers: await jwtHeaders(), timeoutMs: readTimeout });
        // Re-read the raw text so that numeric element ids keep every digit.
        const parsed = elementTask.safeParse(readData(res, 'element query', 'read', parseLossless(res.text)));
        const status = parsed.success ? elementStatus(parsed.data) : null;
        if (!status) throw badShape('element query', res);
        return status;
      }
      const items = await queryTasks('task_ids', ref.upstreamId);
      const mine = items.find((i) => (i as { id?: unknown } | null)?.id === ref.upstreamId);
      if (mine === undefined) {
        if (items.length > 0) throw new ProviderError('bad_response', `kling query for ${ref.upstreamId} answered other tasks`);
        throw new ProviderError('not_found', `kling does not know task ${ref.upstreamId}`);
      }
      const { upstreamId: _id, ...status } = itemStatus(mine, 'query');
      return status;
    },

    /**
     * Motion tasks: `GET /tasks?external_task_ids=`; null when the list is empty. Element creation
     * has no documented lookup by external id, so it throws (the caller reads that as "cannot tell").
     */
    async findByAttemptId(attemptId: string, model: CanonicalModel, _quality: Quality): Promise<CreateResult | null> {
      if (model !== 'kling-v3-motion-control') {
        throw new ProviderError('unknown_outcome', 'kling has no documented lookup of element tasks by external_task_id');
      }
      const items = await queryTasks('external_task_ids', attemptId);
      if (items.length === 0) return null;
      const mine = items.find((i) => (i as { external_id?: unknown } | null)?.external_id === attemptId) ?? items[0];
      return itemStatus(mine, 'lookup');
    },

    /** A callback body is the task object: new-format `{id, status, …}` or legacy `{task_id, task_status, …}`. */
    parseWebhook(body: unknown): WebhookEvent | null {
      const item = taskItem.safeParse(body);
      if (item.success) {
        const status = motionStatus(item.data);
        return status ? { upstreamId: item.data.id, status } : null;
      }
      const el = elementTask.safeParse(body);
      if (el.success) {
        const status = elementStatus(el.data);
        return status ? { upstreamId: el.data.task_id, status } : null;
      }
      return null;
    },
  };
}

/** Factory registered under type `kling`; default prices are in Kling units (`credit_usd` 0.14). */
export const klingFactory: AdapterFactory = {
  type: 'kling',
  defaultBaseUrl: KLING.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': {
      price: { per_second: { ...KLING.motionUnitsPerSecond }, credit_usd: KLING.creditUsd },
      asOf: KLING.priceAsOf,
      source: KLING.motionPriceSource,
    },
    'kling-custom-element': {
      price: { per_request: KLING.elementUnitsPerRequest, credit_usd: KLING.creditUsd },
      asOf: KLING.priceAsOf,
      source: KLING.elementPriceSource,
    },
  },
  create: createKlingAdapter,
};
