/**
 * Replicate adapter: Kling v3 motion control as a Replicate model prediction (create → poll).
 *
 * Replicate never creates elements; an ElementRequest is rejected before anything is sent.
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
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

// ─── Assumptions (PROVIDERS.md, partly unverified): correct them here ──────────────────────────
const REPLICATE = {
  defaultBaseUrl: 'https://api.replicate.com',
  /** The v3 model is assumed to take the same input as the v2.6 one (unverified). */
  createPath: '/v1/models/kwaivgi/kling-v3-motion-control/predictions',
  getPath: (id: string) => `/v1/predictions/${encodeURIComponent(id)}`,
  cancelPath: (id: string) => `/v1/predictions/${encodeURIComponent(id)}/cancel`,
  authHeader: (token: string) => `Bearer ${token}`,
  /** Tier → `input.mode`. */
  mode: { '720p': 'std', '1080p': 'pro' } as Record<Quality, 'std' | 'pro'>,
  webhookEvents: ['completed'],
  /** USD per output second, std/pro (PROVIDERS.md, corrected 2026-11-29; $0.09/$0.15 was v2.6). */
  price: { '720p': 0.07, '1080p': 0.12 },
  priceAsOf: '2026-06-04',
  priceSource: 'PROVIDERS.md (v3 model page scraped 2026-06-04), https://replicate.com/kwaivgi/kling-v3-motion-control',
} as const;
/**
 * Failure reading: a failed prediction carries only a free-text `error`, no structured code, so
 * every failed prediction is provider-side (fail over). Input that Replicate refuses up front comes
 * back as HTTP 422 on create (invalid_request) instead. The output duration is never reported:
 * `metrics.predict_time` is compute time, not the video's length.
 */
const FAILED_CODE = 'prediction_failed';
// ────────────────────────────────────────────────────────────────────────────────────────────────

const prediction = z.object({
  id: z.string().min(1),
  status: z.enum(['starting', 'processing', 'succeeded', 'failed', 'canceled']),
  // PROVIDERS.md says a single URL string; a list is accepted too since some models answer one.
  output: z.union([z.string(), z.array(z.string())]).nullish(),
  error: z.unknown().optional(),
});
type Prediction = z.infer<typeof prediction>;

const problem = z.object({ detail: z.unknown().optional(), title: z.string().optional() }).loose();

function httpError(res: JsonResponse, what: string): ProviderError {
  const p = problem.safeParse(res.body);
  const detail = p.success && typeof p.data.detail === 'string' ? `: ${p.data.detail}` : '';
  return new ProviderError(kindForStatus(res.status), `replicate ${what} answered HTTP ${res.status}${detail}`, { status: res.status });
}

function badShape(what: string, res: JsonResponse): ProviderError {
  return new ProviderError('bad_response', `replicate ${what} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
}

/** Prediction → normalized status; null when a succeeded prediction has no output URL. */
function toStatus(p: Prediction): UpstreamStatus | null {
  switch (p.status) {
    case 'starting':
      return { state: 'pending' };
    case 'processing':
      return { state: 'processing' };
    case 'canceled':
      return { state: 'cancelled' };
    case 'failed': {
      const message = typeof p.error === 'string' && p.error ? p.error : 'replicate prediction failed';
      return { state: 'failed', error: { code: FAILED_CODE, message, providerSide: true } };
    }
    case 'succeeded': {
      const outputs = (typeof p.output === 'string' ? [p.output] : (p.output ?? [])).filter((u) => u.length > 0);
      return outputs.length > 0 ? { state: 'completed', progress: 100, outputs } : null;
    }
  }
}

function parsePrediction(res: JsonResponse, what: string): { p: Prediction; status: UpstreamStatus } {
  const parsed = prediction.safeParse(res.body);
  const status = parsed.success ? toStatus(parsed.data) : null;
  if (!parsed.success || !status) throw badShape(what, res);
  return { p: parsed.data, status };
}

/** Adapter for Replicate's predictions API. */
export function createReplicateAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? REPLICATE.defaultBaseUrl;
  const token = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ authorization: REPLICATE.authHeader(token) });

  function checkRef(ref: TaskRef): void {
    if (ref.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', `replicate does not serve ${ref.model}`);
  }

  return {
    type: 'replicate',
    capabilities: { models: ['kling-v3-motion-control'], cancel: true, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      if (req.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', 'replicate cannot create custom elements');
      if (req.elementIds?.length) throw new ProviderError('invalid_request', 'replicate motion control does not take elements');
      const body = {
        input: {
          image: req.imageUrl,
          video: req.videoUrl,
          mode: REPLICATE.mode[req.quality],
          character_orientation: req.orientation,
          keep_original_sound: req.keepOriginalSound,
          ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
        },
        ...(input.webhookUrl ? { webhook: input.webhookUrl, webhook_events_filter: [...REPLICATE.webhookEvents] } : {}),
      };
      const res = await sendJson({ method: 'POST', url: joinUrl(base, REPLICATE.createPath), headers: headers(), body, timeoutMs: createTimeout });
      // A 404 here means the model path is wrong for this provider: its problem, not the input's.
      if (res.status === 404) throw new ProviderError('unavailable', 'replicate does not know the model', { status: 404 });
      if (res.status < 200 || res.status >= 300) throw httpError(res, 'create');
      const { p, status } = parsePrediction(res, 'create');
      return { ...status, upstreamId: p.id };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      checkRef(ref);
      const res = await sendJson({ method: 'GET', url: joinUrl(base, REPLICATE.getPath(ref.upstreamId)), headers: headers(), timeoutMs: readTimeout });
      if (res.status !== 200) throw httpError(res, 'poll');
      return parsePrediction(res, 'poll').status;
    },

    async cancel(ref: TaskRef): Promise<void> {
      checkRef(ref);
      const res = await sendJson({ method: 'POST', url: joinUrl(base, REPLICATE.cancelPath(ref.upstreamId)), headers: headers(), timeoutMs: readTimeout });
      if (res.status < 200 || res.status >= 300) throw httpError(res, 'cancel');
      // Replicate answers 200 with the prediction even when it had already ended: the cancel was
      // not accepted then, and the caller must keep the task's real outcome.
      const { status } = parsePrediction(res, 'cancel');
      if (status.state === 'completed' || status.state === 'failed') {
        throw new ProviderError('invalid_request', `replicate prediction already ${status.state}`, { status: res.status });
      }
    },

    parseWebhook(body: unknown): WebhookEvent | null {
      const parsed = prediction.safeParse(body);
      if (!parsed.success) return null;
      const status = toStatus(parsed.data);
      return status ? { upstreamId: parsed.data.id, status } : null;
    },
  };
}

/** Factory registered under type `replicate`. */
export const replicateFactory: AdapterFactory = {
  type: 'replicate',
  defaultBaseUrl: REPLICATE.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': {
      price: { per_second: { ...REPLICATE.price } },
      asOf: REPLICATE.priceAsOf,
      source: REPLICATE.priceSource,
    },
  },
  create: createReplicateAdapter,
};
