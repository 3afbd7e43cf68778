/**
 * EvoLink adapter: Kling v3 motion control and Kling custom elements through EvoLink's unified task
 * API (`POST /v1/videos/generations` → `GET /v1/tasks/{id}`), whose shape reelroute's own client API
 * follows (CONTRACT.md §3).
 */
import { z } from 'zod';
import { joinUrl, kindForStatus, sendJson, type JsonResponse } from '../http.ts';
import {
  ProviderError,
  type AdapterFactory,
  type AdapterOptions,
  type CanonicalModel,
  type CreateInput,
  type CreateResult,
  type ProviderAdapter,
  type ProviderErrorKind,
  type TaskRef,
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

// ─── Assumptions (PROVIDERS.md, docs.evolink.ai; partly unverified): correct them here ─────────
const EVOLINK = {
  defaultBaseUrl: 'https://api.evolink.ai',
  createPath: '/v1/videos/generations',
  taskPath: (id: string) => `/v1/tasks/${encodeURIComponent(id)}`,
  authHeader: (key: string) => `Bearer ${key}`,
  /** USD per output second. Another snapshot of EvoLink's price page said 0.120 / 0.160. */
  motionPrice: { '720p': 0.1134, '1080p': 0.1512 },
  /** 1 credit ≈ $0.0139 per element, refunded in full when the creation fails. */
  elementPrice: 0.0139,
  priceAsOf: '2026-11-25',
  priceSource: 'PROVIDERS.md (EvoLink price page; another snapshot: $0.120/$0.160 per second), https://evolink.ai/pricing',
} as const;
/**
 * Cancel: not offered. EvoLink documents `task_info.can_cancel` and a task error code
 * `request_cancelled`, but no cancel endpoint; guessing one (e.g. `POST /v1/tasks/{id}/cancel`)
 * would refund a hold for a task that may still run and bill. Correct here once it is documented.
 *
 * Task error codes (docs.evolink.ai "Error Codes Reference"), classified by code, never by text:
 * - input-side (no failover): `content_policy_violation`, `invalid_parameters`, any `image_*`
 *   (`image_processing_error`, `image_dimension_mismatch`, …);
 * - `request_cancelled`: the task was cancelled (e.g. from EvoLink's console) → state `cancelled`;
 * - everything else is provider-side (failover): the documented server codes `service_error`,
 *   `generation_timeout`, `resource_exhausted`, `quota_exceeded`, `service_unavailable`, and also
 *   `generation_failed_no_content`, `resource_not_found`, `unknown_error` and any code not listed
 *   here — an unknown code is more likely a new server-side condition than a refusal of the input.
 */
const INPUT_CODES = new Set(['content_policy_violation', 'invalid_parameters']);
const INPUT_CODE_PREFIXES = ['image_'];
const CANCELLED_CODE = 'request_cancelled';
/** Provider-side codes that mean "slow down" rather than "down". */
const RATE_CODES = new Set(['quota_exceeded']);
const FAILOVER_CODES = new Set(['service_error', 'generation_timeout', 'resource_exhausted', 'quota_exceeded', 'service_unavailable']);
/** HTTP error codes that say the task id is unknown (`invalid_task_id`: 400, not `task-unified-…`). */
const NOT_FOUND_CODES = new Set(['invalid_task_id', 'task_not_found', 'resource_not_found']);
const FALLBACK_FAILURE_CODE = 'unknown_error';
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** True when an EvoLink error code blames the input. */
export function isInputCode(code: string): boolean {
  return INPUT_CODES.has(code) || INPUT_CODE_PREFIXES.some((p) => code.startsWith(p));
}

const errorObject = z.object({ code: z.union([z.string(), z.number()]).nullish(), message: z.string().nullish() }).loose();
const taskObject = z.object({
  id: z.string().min(1),
  status: z.enum(['pending', 'processing', 'completed', 'failed', 'cancelled']),
  progress: z.number().nullish(),
  results: z.array(z.string()).nullish(),
  result_data: z.object({ element_id: z.union([z.string(), z.number()]).nullish() }).loose().nullish(),
  error: errorObject.nullish(),
}).loose();
type Task = z.infer<typeof taskObject>;
const errorBody = z.object({ error: z.union([errorObject, z.string()]) }).loose();

function codeOf(value: string | number | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : String(value);
}

/** A task object → normalized status; null when a completed task lacks what `expect` needs. */
function toStatus(t: Task, expect?: CanonicalModel): UpstreamStatus | null {
  const progress = typeof t.progress === 'number' ? { progress: Math.max(0, Math.min(100, t.progress)) } : {};
  switch (t.status) {
    case 'pending':
      return { state: 'pending', ...progress };
    case 'processing':
      return { state: 'processing', ...progress };
    case 'cancelled':
      return { state: 'cancelled' };
    case 'failed': {
      const code = codeOf(t.error?.code) ?? FALLBACK_FAILURE_CODE;
      if (code === CANCELLED_CODE) return { state: 'cancelled' };
      const message = t.error?.message || 'evolink task failed';
      return { state: 'failed', error: { code, message, providerSide: !isInputCode(code) } };
    }
    case 'completed': {
      const outputs = (t.results ?? []).filter((u) => u.length > 0);
      const rawId = t.result_data?.element_id;
      const elementId = typeof rawId === 'number' && !Number.isSafeInteger(rawId) ? undefined : codeOf(rawId);
      if (expect === 'kling-custom-element' || (expect === undefined && outputs.length === 0)) {
        return elementId ? { state: 'completed', progress: 100, elementId } : null;
      }
      return outputs.length > 0 ? { state: 'completed', progress: 100, outputs } : null;
    }
  }
}

/** HTTP status plus EvoLink's structured error code → what the router does next. */
function kindFor(status: number, code: string | undefined): ProviderErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (code !== undefined) {
    if (isInputCode(code)) return 'invalid_request';
    if (RATE_CODES.has(code)) return 'rate_limited';
    if (FAILOVER_CODES.has(code)) return 'unavailable';
    if (NOT_FOUND_CODES.has(code)) return 'not_found';
  }
  return kindForStatus(status);
}

function httpError(res: JsonResponse, what: string): ProviderError {
  const parsed = errorBody.safeParse(res.body);
  const err = parsed.success ? parsed.data.error : undefined;
  const code = typeof err === 'object' ? codeOf(err.code) : undefined;
  const text = typeof err === 'object' ? err.message : err;
  const detail = text ? `: ${text}` : '';
  let kind = kindFor(res.status, code);
  // On create, "not found" means the path or model is unknown here: the provider's problem.
  if (what === 'create' && kind === 'not_found') kind = 'unavailable';
  return new ProviderError(kind, `evolink ${what} answered HTTP ${res.status}${code ? ` ${code}` : ''}${detail}`, { status: res.status, code });
}

function parseTask(res: JsonResponse, what: string, expect: CanonicalModel): { task: Task; status: UpstreamStatus } {
  const parsed = taskObject.safeParse(res.body);
  const status = parsed.success ? toStatus(parsed.data, expect) : null;
  if (!parsed.success || !status) {
    throw new ProviderError('bad_response', `evolink ${what} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
  }
  return { task: parsed.data, status };
}

/** The request body EvoLink expects (CONTRACT.md §3 shape). */
function bodyFor(input: CreateInput): Record<string, unknown> {
  const req = input.request;
  const callback = input.webhookUrl ? { callback_url: input.webhookUrl } : {};
  if (req.model === 'kling-custom-element') {
    return {
      model: req.model,
      model_params: {
        element_name: req.name,
        element_description: req.description,
        reference_type: req.referenceType,
        element_video_list: { video_url: req.videoUrl },
      },
      ...callback,
    };
  }
  return {
    model: req.model,
    image_urls: [req.imageUrl],
    video_urls: [req.videoUrl],
    quality: req.quality,
    ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
    model_params: {
      character_orientation: req.orientation,
      keep_original_sound: req.keepOriginalSound,
      ...(req.elementIds?.length ? { element_list: req.elementIds.map((id) => ({ element_id: id })) } : {}),
    },
    ...callback,
  };
}

/** Adapter for EvoLink's unified task API. */
export function createEvolinkAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? EVOLINK.defaultBaseUrl;
  const apiKey = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ authorization: EVOLINK.authHeader(apiKey) });

  return {
    type: 'evolink',
    capabilities: { models: ['kling-v3-motion-control', 'kling-custom-element'], cancel: false, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const url = joinUrl(base, EVOLINK.createPath);
      const res = await sendJson({ method: 'POST', url, headers: headers(), body: bodyFor(input), timeoutMs: createTimeout });
      if (res.status < 200 || res.status >= 300) throw httpError(res, 'create');
      const { task, status } = parseTask(res, 'create', input.request.model);
      return { ...status, upstreamId: task.id };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      const url = joinUrl(base, EVOLINK.taskPath(ref.upstreamId));
      const res = await sendJson({ method: 'GET', url, headers: headers(), timeoutMs: readTimeout });
      if (res.status !== 200) throw httpError(res, 'poll');
      return parseTask(res, 'poll', ref.model).status;
    },

    /** The callback body is the task object, as the poll answers it. */
    parseWebhook(body: unknown): WebhookEvent | null {
      const parsed = taskObject.safeParse(body);
      if (!parsed.success) return null;
      const status = toStatus(parsed.data);
      return status ? { upstreamId: parsed.data.id, status } : null;
    },
  };
}

/** Factory registered under type `evolink`. */
export const evolinkFactory: AdapterFactory = {
  type: 'evolink',
  defaultBaseUrl: EVOLINK.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': { price: { per_second: { ...EVOLINK.motionPrice } }, asOf: EVOLINK.priceAsOf, source: EVOLINK.priceSource },
    'kling-custom-element': { price: { per_request: EVOLINK.elementPrice }, asOf: EVOLINK.priceAsOf, source: EVOLINK.priceSource },
  },
  create: createEvolinkAdapter,
};
