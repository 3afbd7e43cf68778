/**
 * fal adapter: Kling v3 motion control through fal's queue API (submit → status → result).
 *
 * fal never creates elements; an ElementRequest is rejected before anything is sent.
 */
import { z } from 'zod';
import { joinUrl, kindForStatus, sendJson, type JsonResponse } from '../http.ts';
import {
  ProviderError,
  type AdapterFactory,
  type AdapterOptions,
  type CreateInput,
  type CreateResult,
  type ProviderAdapter,
  type Quality,
  type TaskRef,
  type UpstreamState,
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

// ─── Assumptions (PROVIDERS.md, partly unverified): correct them here ──────────────────────────
/** Model id per tier: the submit path. */
export const FAL_MODEL_IDS: Record<Quality, string> = {
  '720p': 'fal-ai/kling-video/v3/standard/motion-control',
  '1080p': 'fal-ai/kling-video/v3/pro/motion-control',
};
/** A model id's app, `owner/alias` (its first two segments): the prefix of request URLs. */
const FAL_APP = (model: string): string => model.split('/').slice(0, 2).join('/');
const FAL = {
  defaultBaseUrl: 'https://queue.fal.run',
  submitPath: (model: string) => `/${model}`,
  /**
   * Status/result/cancel use the `status_url`/`response_url`/`cancel_url` the submit returned, kept
   * with the attempt (PROVIDERS.md, corrected 2026-11-29). They sit on the app's `owner/alias` only
   * (`fal-ai/kling-video/requests/{id}/status`), so when an attempt has none (created before they
   * were stored) or they point at another origin (our key must not go there) the same URLs are
   * built that way, as fal's own client does.
   */
  requestPath: (model: string, id: string) => `/${FAL_APP(model)}/requests/${encodeURIComponent(id)}`,
  webhookParam: 'fal_webhook',
  authHeader: (key: string) => `Key ${key}`,
  /** Unverified list price, USD per output second. */
  price: { '720p': 0.126, '1080p': 0.168 },
  priceAsOf: '2026-11-25',
  priceSource: 'PROVIDERS.md (unverified), from https://fal.ai/models/fal-ai/kling-video/v3/standard/motion-control',
} as const;
/**
 * error_type values that blame the input (fal "Model Errors": validation, media, moderation), so
 * the task must not fail over. Every other error_type (request errors such as runner_disconnected,
 * request_timeout, internal_error, and model-side internal_server_error/generation_timeout/
 * downstream_service_*) is treated as the provider's fault.
 */
const INPUT_ERROR_TYPES = new Set([
  'content_policy_violation', 'image_too_small', 'image_too_large', 'image_load_error',
  'file_download_error', 'face_detection_error', 'file_too_large', 'greater_than',
  'greater_than_equal', 'less_than', 'less_than_equal', 'multiple_of', 'sequence_too_short',
  'sequence_too_long', 'one_of', 'feature_not_supported', 'unsupported_image_format',
  'unsupported_video_format', 'unsupported_audio_format', 'video_duration_too_long',
  'video_duration_too_short', 'audio_duration_too_long', 'audio_duration_too_short',
]);
/** fal's request error type for a request the client cancelled: our cancel, not a failure. */
const CANCELLED_ERROR_TYPE = 'client_cancelled';
// ────────────────────────────────────────────────────────────────────────────────────────────────

const submitAnswer = z.object({
  request_id: z.string().min(1),
  status: z.string().optional(),
  status_url: z.string().optional(),
  response_url: z.string().optional(),
  cancel_url: z.string().optional(),
});
/** The URLs of one request, as stored in the attempt's handle. */
const requestUrls = z.object({ status_url: z.string(), response_url: z.string(), cancel_url: z.string() });
type RequestUrls = z.infer<typeof requestUrls>;
const statusAnswer = z.object({
  status: z.enum(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']),
  error: z.unknown().optional(),
  error_type: z.string().nullish(),
});
/** `duration` is optional in fal's VideoFile type; read only when present. */
const resultAnswer = z.object({ video: z.object({ url: z.string().min(1), duration: z.number().positive().optional() }) });
/** Error bodies: model errors carry `detail: [{type}]`, request errors a flat `error_type`. */
const errorBody = z.object({
  detail: z.union([z.string(), z.array(z.object({ type: z.string().optional() }).loose())]).optional(),
  error_type: z.string().optional(),
}).loose();
const webhookBody = z.object({
  request_id: z.string().min(1),
  status: z.enum(['OK', 'ERROR']),
  payload: z.unknown().optional(),
  error: z.unknown().optional(),
});

function fail(code: string, message: string, providerSide: boolean): UpstreamStatus {
  return { state: 'failed', error: { code, message, providerSide } };
}

/** A finished request's error → cancelled or failed, by error_type only. */
function endedWithError(errorType: string | null | undefined, message: string): UpstreamStatus {
  if (errorType === CANCELLED_ERROR_TYPE) return { state: 'cancelled' };
  const code = errorType ?? 'unknown_error';
  return fail(code, message, !INPUT_ERROR_TYPES.has(code));
}

/**
 * A failed request as the result endpoint or a webhook describes it. The HTTP status is structured:
 * 4xx means the input was refused, 5xx the provider failed, unless an error type says otherwise.
 */
function failureFromBody(body: unknown, httpStatus: number | undefined, fallback: string): UpstreamStatus {
  const parsed = errorBody.safeParse(body);
  const b = parsed.success ? parsed.data : {};
  const first = Array.isArray(b.detail) ? b.detail.find((d) => d.type)?.type : undefined;
  const type = b.error_type ?? first;
  const message = typeof b.detail === 'string' ? b.detail : fallback;
  if (type === CANCELLED_ERROR_TYPE) return { state: 'cancelled' };
  if (type !== undefined && INPUT_ERROR_TYPES.has(type)) return fail(type, message, false);
  const inputSide = httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500 && httpStatus !== 429;
  return fail(type ?? `http_${httpStatus ?? 'error'}`, message, !inputSide);
}

function httpError(res: JsonResponse, what: string): ProviderError {
  const parsed = errorBody.safeParse(res.body);
  const detail = parsed.success && typeof parsed.data.detail === 'string' ? `: ${parsed.data.detail}` : '';
  const code = parsed.success ? parsed.data.error_type : undefined;
  return new ProviderError(kindForStatus(res.status), `fal ${what} answered HTTP ${res.status}${detail}`, { status: res.status, code });
}

function badShape(what: string, res: JsonResponse): ProviderError {
  return new ProviderError('bad_response', `fal ${what} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
}

const STATE_FOR: Record<'IN_QUEUE' | 'IN_PROGRESS', UpstreamState> = { IN_QUEUE: 'pending', IN_PROGRESS: 'processing' };

/** Adapter for fal's queue API. */
export function createFalAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? FAL.defaultBaseUrl;
  const apiKey = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ authorization: FAL.authHeader(apiKey) });

  const origin = new URL(base).origin;
  /** The submit's URLs when they are on fal's own origin; otherwise null (built instead). */
  function keptUrls(answer: Partial<RequestUrls>): RequestUrls | null {
    const parsed = requestUrls.safeParse(answer);
    if (!parsed.success) return null;
    const sameOrigin = Object.values(parsed.data).every((u) => URL.canParse(u) && new URL(u).origin === origin);
    return sameOrigin ? parsed.data : null;
  }

  /** Where to read and cancel this request: the stored submit URLs, else built on owner/alias. */
  function urlsFor(ref: TaskRef): RequestUrls {
    if (ref.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', `fal does not serve ${ref.model}`);
    if (ref.handle) {
      let stored: unknown;
      try {
        stored = JSON.parse(ref.handle);
      } catch {
        stored = undefined;
      }
      const kept = keptUrls((stored ?? {}) as Partial<RequestUrls>);
      if (kept) return kept;
    }
    const response = joinUrl(base, FAL.requestPath(FAL_MODEL_IDS[ref.quality], ref.upstreamId));
    return { response_url: response, status_url: `${response}/status`, cancel_url: `${response}/cancel` };
  }

  async function readResult(resultUrl: string): Promise<UpstreamStatus> {
    const res = await sendJson({ method: 'GET', url: resultUrl, headers: headers(), timeoutMs: readTimeout });
    // Failed requests answer the result URL with their error; auth/throttling are about our call.
    if (res.status === 401 || res.status === 403 || res.status === 429 || res.status === 404) throw httpError(res, 'result');
    if (res.status >= 400) {
      // Only an answer that describes the failure ends the task; a bare 5xx is fal being down.
      const eb = errorBody.safeParse(res.body);
      if (!eb.success || (eb.data.error_type === undefined && eb.data.detail === undefined)) throw httpError(res, 'result');
      return failureFromBody(res.body, res.status, `fal request failed (HTTP ${res.status})`);
    }
    const parsed = resultAnswer.safeParse(res.body);
    if (!parsed.success) throw badShape('result', res);
    const { url, duration } = parsed.data.video;
    return { state: 'completed', progress: 100, outputs: [url], ...(duration !== undefined ? { outputDurationS: duration } : {}) };
  }

  return {
    type: 'fal',
    capabilities: { models: ['kling-v3-motion-control'], cancel: true, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      if (req.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', 'fal cannot create custom elements');
      if (req.elementIds?.length) throw new ProviderError('invalid_request', 'fal motion control does not take elements');
      const model = FAL_MODEL_IDS[req.quality];
      let url = joinUrl(base, FAL.submitPath(model));
      if (input.webhookUrl) url += `?${FAL.webhookParam}=${encodeURIComponent(input.webhookUrl)}`;
      const body = {
        image_url: req.imageUrl,
        video_url: req.videoUrl,
        character_orientation: req.orientation,
        keep_original_sound: req.keepOriginalSound,
        ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
      };
      const res = await sendJson({ method: 'POST', url, headers: headers(), body, timeoutMs: createTimeout });
      // A 404 here means the model path is wrong for this provider: its problem, not the input's.
      if (res.status === 404) throw new ProviderError('unavailable', `fal does not know model ${model}`, { status: 404 });
      if (res.status < 200 || res.status >= 300) throw httpError(res, 'submit');
      const parsed = submitAnswer.safeParse(res.body);
      if (!parsed.success) throw badShape('submit', res);
      const state = parsed.data.status === 'IN_PROGRESS' ? 'processing' : 'pending';
      const urls = keptUrls(parsed.data);
      return { upstreamId: parsed.data.request_id, state, ...(urls ? { handle: JSON.stringify(urls) } : {}) };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      const urls = urlsFor(ref);
      const res = await sendJson({ method: 'GET', url: urls.status_url, headers: headers(), timeoutMs: readTimeout });
      // fal answers 202 while queued or running and 200 once completed.
      if (res.status !== 200 && res.status !== 202) throw httpError(res, 'status');
      const parsed = statusAnswer.safeParse(res.body);
      if (!parsed.success) throw badShape('status', res);
      const s = parsed.data;
      if (s.status !== 'COMPLETED') return { state: STATE_FOR[s.status] };
      if (s.error || s.error_type) return endedWithError(s.error_type, typeof s.error === 'string' ? s.error : 'fal request failed');
      return readResult(urls.response_url);
    },

    async cancel(ref: TaskRef): Promise<void> {
      const res = await sendJson({ method: 'PUT', url: urlsFor(ref).cancel_url, headers: headers(), timeoutMs: readTimeout });
      // 400 ALREADY_COMPLETED maps to invalid_request: the cancel was refused, nothing to retry.
      if (res.status < 200 || res.status >= 300) throw httpError(res, 'cancel');
    },

    parseWebhook(body: unknown): WebhookEvent | null {
      const parsed = webhookBody.safeParse(body);
      if (!parsed.success) return null;
      const w = parsed.data;
      if (w.status === 'ERROR') {
        return { upstreamId: w.request_id, status: failureFromBody(w.payload, undefined, typeof w.error === 'string' ? w.error : 'fal request failed') };
      }
      const result = resultAnswer.safeParse(w.payload);
      if (!result.success) return null;
      const { url, duration } = result.data.video;
      const status: UpstreamStatus = { state: 'completed', progress: 100, outputs: [url], ...(duration !== undefined ? { outputDurationS: duration } : {}) };
      return { upstreamId: w.request_id, status };
    },
  };
}

/** Factory registered under type `fal`. */
export const falFactory: AdapterFactory = {
  type: 'fal',
  defaultBaseUrl: FAL.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': {
      price: { per_second: { ...FAL.price } },
      asOf: FAL.priceAsOf,
      source: FAL.priceSource,
    },
  },
  create: createFalAdapter,
};
