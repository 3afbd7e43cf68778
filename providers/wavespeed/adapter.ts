/**
 * WaveSpeed adapter: Kling v3 motion control (std = 720p, pro = 1080p) and Kling custom elements as
 * WaveSpeed predictions (`POST /api/v3/{model}` → `GET /api/v3/predictions/{id}/result`), every
 * answer wrapped in WaveSpeed's `{code, message, data}` envelope.
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
  type Quality,
  type TaskRef,
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

// ─── Assumptions (PROVIDERS.md, wavespeed.ai docs; partly unverified): correct them here ───────
/** Model id per tier; the submit path is `/api/v3/{model}`. The pro id is unverified. */
export const WAVESPEED_MOTION_MODELS: Record<Quality, string> = {
  '720p': 'kwaivgi/kling-v3.0-std/motion-control',
  '1080p': 'kwaivgi/kling-v3.0-pro/motion-control',
};
/** Element-creation model id (WaveSpeed model page); the submit path is `/api/v3/{model}`. */
export const WAVESPEED_ELEMENT_MODEL = 'kwaivgi/kling-elements-advanced';
const WAVESPEED = {
  defaultBaseUrl: 'https://api.wavespeed.ai',
  submitPath: (model: string) => `/api/v3/${model}`,
  resultPath: (id: string) => `/api/v3/predictions/${encodeURIComponent(id)}/result`,
  /** Documented: the webhook URL goes in the submit URL's query; the delivery is the bare prediction. */
  webhookParam: 'webhook',
  authHeader: (key: string) => `Bearer ${key}`,
  /**
   * Unverified: USD per second. WaveSpeed says the price scales with the reference video's length
   * (3–30 s); reelroute bills output seconds, which follow the reference video.
   */
  motionPrice: { '720p': 0.12, '1080p': 0.16 },
  /** "$0.01 per run" on the model page. */
  elementPrice: 0.01,
  priceAsOf: '2026-11-25',
  priceSource: 'PROVIDERS.md; motion price unverified, element price from https://wavespeed.ai/models/kwaivgi/kling-elements-advanced',
} as const;
/**
 * Element creation (unverified beyond the model page's parameter table): body
 * `{name, description, reference_type: "video_refer", element_video_list: [videoUrl]}` (the list's
 * shape is a guess). The completed prediction's `outputs[0]` is the element record
 * `{element_id, element_name, element_type, element_description}` as a JSON-encoded string (an
 * object is accepted too); `element_id` is a number in WaveSpeed's sample and is read as digits
 * from the text so that ids beyond 2^53 keep every digit.
 *
 * Motion control with elements (unverified: WaveSpeed's documented motion-control inputs have no
 * element field): the body carries `element_list: [{element_id}]`, the shape Kling and EvoLink use;
 * `element_id` is a number when the id is all digits and fits a JS safe integer, else the string.
 * With an element, `character_orientation` must be "video" (the gateway already forces it).
 *
 * Failed predictions carry `error` (free text) and a numeric `code` (wavespeed.ai "Error Codes").
 * Only these codes blame the input (no failover): 1200 content moderation, 1400 missing parameter,
 * 1401 invalid parameter, 1402 media URL not accessible, 1403 task execution failed ("adjust input
 * parameters"). Everything else is provider-side: 5000/5003/5004, the generic 1405 "task failed",
 * unknown codes, and a failure without a code.
 */
const INPUT_FAILURE_CODES = new Set([1200, 1400, 1401, 1402, 1403]);
const FAILED_CODE_PREFIX = 'wavespeed_';
const UNCODED_FAILURE = 'prediction_failed';
/** Element id → the `element_id` value sent in `element_list` (see above). */
function elementIdValue(id: string): number | string {
  if (!/^(0|[1-9]\d*)$/.test(id)) return id;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : id;
}
// ────────────────────────────────────────────────────────────────────────────────────────────────

const prediction = z.object({
  id: z.string().min(1),
  model: z.string().nullish(),
  status: z.enum(['created', 'processing', 'completed', 'failed']),
  outputs: z.array(z.unknown()).nullish(),
  error: z.string().nullish(),
  code: z.number().nullish(),
}).loose();
type Prediction = z.infer<typeof prediction>;
const envelope = z.object({ code: z.number().optional(), message: z.string().nullish(), data: z.unknown() }).loose();

/** The element id in an element record (JSON text or object), as a string; undefined if absent. */
export function elementIdFrom(output: unknown): string | undefined {
  if (typeof output === 'string') {
    const m = /"element_id"\s*:\s*(?:"([^"]+)"|(-?\d+))/.exec(output);
    return m?.[1] ?? m?.[2];
  }
  if (typeof output === 'object' && output !== null) {
    const id = (output as { element_id?: unknown }).element_id;
    if (typeof id === 'string' && id.length > 0) return id;
    if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  }
  return undefined;
}

/** A prediction → normalized status; null when a completed one lacks what the model produces. */
function toStatus(p: Prediction, expect: CanonicalModel): UpstreamStatus | null {
  switch (p.status) {
    case 'created':
      return { state: 'pending' };
    case 'processing':
      return { state: 'processing' };
    case 'failed': {
      const code = typeof p.code === 'number' && p.code !== 0 ? p.code : undefined;
      const message = p.error || 'wavespeed prediction failed';
      const providerSide = code === undefined || !INPUT_FAILURE_CODES.has(code);
      return { state: 'failed', error: { code: code === undefined ? UNCODED_FAILURE : `${FAILED_CODE_PREFIX}${code}`, message, providerSide } };
    }
    case 'completed': {
      const first = p.outputs?.[0];
      if (expect === 'kling-custom-element') {
        const elementId = elementIdFrom(first);
        return elementId ? { state: 'completed', progress: 100, elementId } : null;
      }
      const outputs = (p.outputs ?? []).filter((u): u is string => typeof u === 'string' && /^https?:\/\//.test(u));
      return outputs.length > 0 ? { state: 'completed', progress: 100, outputs } : null;
    }
  }
}

/** What a webhook's prediction produced, by its `model` (a poll knows it from the TaskRef). */
const modelOf = (p: Prediction): CanonicalModel =>
  p.model === WAVESPEED_ELEMENT_MODEL ? 'kling-custom-element' : 'kling-v3-motion-control';

function httpError(status: number, message: string | null | undefined, what: string): ProviderError {
  let kind = kindForStatus(status);
  // On submit, "not found" means the model path is unknown here: the provider's problem.
  if (what === 'submit' && kind === 'not_found') kind = 'unavailable';
  return new ProviderError(kind, `wavespeed ${what} answered ${status}${message ? `: ${message}` : ''}`, { status });
}

/** Unwrap `{code, message, data}`; an envelope code other than 200 is an error even under HTTP 200. */
function unwrap(res: JsonResponse, what: string, expect: CanonicalModel): { p: Prediction; status: UpstreamStatus } {
  const env = envelope.safeParse(res.body);
  if (res.status < 200 || res.status >= 300) throw httpError(res.status, env.success ? env.data.message : undefined, what);
  if (env.success && env.data.code !== undefined && env.data.code !== 200) throw httpError(env.data.code, env.data.message, what);
  const parsed = prediction.safeParse(env.success ? env.data.data : undefined);
  const status = parsed.success ? toStatus(parsed.data, expect) : null;
  if (!parsed.success || !status) {
    throw new ProviderError('bad_response', `wavespeed ${what} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
  }
  return { p: parsed.data, status };
}

/** Model id and body for a request. */
function submission(input: CreateInput): { model: string; body: Record<string, unknown> } {
  const req = input.request;
  if (req.model === 'kling-custom-element') {
    return {
      model: WAVESPEED_ELEMENT_MODEL,
      body: { name: req.name, description: req.description, reference_type: req.referenceType, element_video_list: [req.videoUrl] },
    };
  }
  return {
    model: WAVESPEED_MOTION_MODELS[req.quality],
    body: {
      image: req.imageUrl,
      video: req.videoUrl,
      character_orientation: req.orientation,
      keep_original_sound: req.keepOriginalSound,
      ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
      ...(req.elementIds?.length ? { element_list: req.elementIds.map((id) => ({ element_id: elementIdValue(id) })) } : {}),
    },
  };
}

/** Adapter for WaveSpeed's prediction API. */
export function createWavespeedAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? WAVESPEED.defaultBaseUrl;
  const apiKey = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ authorization: WAVESPEED.authHeader(apiKey) });

  return {
    type: 'wavespeed',
    capabilities: { models: ['kling-v3-motion-control', 'kling-custom-element'], cancel: false, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      const { model, body } = submission(input);
      let url = joinUrl(base, WAVESPEED.submitPath(model));
      if (input.webhookUrl) url += `?${WAVESPEED.webhookParam}=${encodeURIComponent(input.webhookUrl)}`;
      const res = await sendJson({ method: 'POST', url, headers: headers(), body, timeoutMs: createTimeout });
      const { p, status } = unwrap(res, 'submit', req.model);
      return { ...status, upstreamId: p.id };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      const url = joinUrl(base, WAVESPEED.resultPath(ref.upstreamId));
      const res = await sendJson({ method: 'GET', url, headers: headers(), timeoutMs: readTimeout });
      return unwrap(res, 'result', ref.model).status;
    },

    /** The delivery is the bare prediction (no envelope); its `model` says what it produced. */
    parseWebhook(body: unknown): WebhookEvent | null {
      const parsed = prediction.safeParse(body);
      if (!parsed.success) return null;
      const status = toStatus(parsed.data, modelOf(parsed.data));
      return status ? { upstreamId: parsed.data.id, status } : null;
    },
  };
}

/** Factory registered under type `wavespeed`. */
export const wavespeedFactory: AdapterFactory = {
  type: 'wavespeed',
  defaultBaseUrl: WAVESPEED.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': { price: { per_second: { ...WAVESPEED.motionPrice } }, asOf: WAVESPEED.priceAsOf, source: WAVESPEED.priceSource },
    'kling-custom-element': { price: { per_request: WAVESPEED.elementPrice }, asOf: WAVESPEED.priceAsOf, source: WAVESPEED.priceSource },
  },
  create: createWavespeedAdapter,
};
