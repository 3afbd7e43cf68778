/**
 * PiAPI adapter: Kling motion control through PiAPI's unified task API
 * (`POST /api/v1/task` → poll `GET /api/v1/task/{id}`, optional webhook).
 *
 * PiAPI authenticates with an `x-api-key` header (not `Authorization`) and names the orientation
 * `motion_direction`. No cancel (see below), no elements, no lookup.
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
  type ProviderErrorKind,
  type TaskRef,
  type UpstreamState,
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

// ─── Assumptions (PROVIDERS.md, partly unverified): correct them here ──────────────────────────
const PIAPI = {
  defaultBaseUrl: 'https://api.piapi.ai',
  createPath: '/api/v1/task',
  taskPath: (id: string) => `/api/v1/task/${encodeURIComponent(id)}`,
  model: 'kling',
  taskType: 'motion_control',
  mode: { '720p': 'std', '1080p': 'pro' },
  /** PiAPI's motion-control example sends "2.6"; "3.0" for Kling 3.0 is unverified. */
  version: '3.0',
  /** Envelope codes read as success: 200 (unverified); 0 appears in PiAPI's get-task schema. */
  okCodes: new Set([200, 0]),
  /**
   * Unverified placeholder, USD per output second: PiAPI's Kling 3.0 video-generation rates without
   * audio. PiAPI publishes no motion-control price in PROVIDERS.md; set the real one in the config.
   */
  price: { '720p': 0.1, '1080p': 0.15 },
  priceAsOf: '2026-11-25',
  priceSource: 'placeholder (unverified): PiAPI Kling 3.0 video-generation rates, https://piapi.ai/docs/kling-api/kling-3-api',
} as const;
/**
 * Where the video URL sits in `data.output` (unverified). PiAPI's Kling tasks answer
 * `output.works[0].video.resource_without_watermark` / `.resource`; newer Kling endpoints use
 * `output.video` or `output.video_url`. Read in this order; the emulator emits the `works` form.
 */
function outputUrlOf(output: unknown): string | undefined {
  const o = asRecord(output);
  const works = o?.works;
  const video = asRecord(Array.isArray(works) ? asRecord(works[0])?.video : undefined);
  const candidates = [video?.resource_without_watermark, video?.resource, o?.video_url, o?.video];
  return candidates.find((u): u is string => typeof u === 'string' && u.length > 0);
}
/**
 * `data.error.code` is read as an HTTP-like number (unverified; PiAPI publishes no list): 4xx blames
 * the input (bad parameters, moderation) and must not fail over, except the codes about our account
 * or our call rate (401/402/403/429). Anything else (0, 5xx, PiAPI's own 10000-range codes) is
 * PiAPI's or Kling's fault.
 */
function inputSideCode(code: number): boolean {
  return code >= 400 && code < 500 && ![401, 402, 403, 429].includes(code);
}
// Cancel: PiAPI documents `DELETE /api/v1/task/{id}` for some task types only, apparently only
// before a task starts (unverified), so the adapter does not offer cancel.
// ────────────────────────────────────────────────────────────────────────────────────────────────

const envelope = z.object({ code: z.number().int(), message: z.string().nullish(), data: z.unknown().optional() });
const task = z.object({
  task_id: z.string().min(1),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.object({ code: z.number().nullish(), message: z.string().nullish(), raw_message: z.string().nullish() }).loose().nullish(),
});
/** Status words, compared lower-cased: PiAPI's schema shows `Completed` where examples show `completed`. */
const STATE_FOR: Record<string, UpstreamState> = {
  pending: 'pending', staged: 'pending', processing: 'processing', completed: 'completed', failed: 'failed',
};

type Op = 'create' | 'status';

function kindForCode(code: number, op: Op): ProviderErrorKind {
  // A create answered 404 means the endpoint or model is gone: PiAPI's side, fail over.
  if (code === 404 && op === 'create') return 'unavailable';
  return kindForStatus(code);
}

/** Null for a success envelope, else the error to throw. The body code wins over the HTTP status. */
function answerError(res: JsonResponse, op: Op): ProviderError | null {
  const env = envelope.safeParse(res.body);
  const httpOk = res.status >= 200 && res.status < 300;
  if (httpOk && !env.success) return badShape(op, res);
  const bodyCode = env.success ? env.data.code : undefined;
  const bodyOk = bodyCode !== undefined && PIAPI.okCodes.has(bodyCode);
  if (httpOk && bodyOk) return null;
  const code = bodyCode !== undefined && !bodyOk ? bodyCode : res.status;
  const msg = env.success && env.data.message ? `: ${env.data.message}` : '';
  return new ProviderError(kindForCode(code, op), `piapi ${op} answered code ${code} (HTTP ${res.status})${msg}`, {
    status: res.status,
    code: String(code),
  });
}

function badShape(op: Op, res: JsonResponse): ProviderError {
  return new ProviderError('bad_response', `piapi ${op} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
}

/** A task object → status; null when its status word is unknown or a completed task has no video. */
function statusOf(t: z.infer<typeof task>): UpstreamStatus | null {
  const state = STATE_FOR[t.status.toLowerCase()];
  if (state === 'completed') {
    const url = outputUrlOf(t.output);
    return url ? { state, progress: 100, outputs: [url] } : null;
  }
  if (state === 'failed') {
    const code = t.error?.code ?? 0;
    const message = t.error?.message || t.error?.raw_message || 'piapi task failed';
    return { state, error: { code: code === 0 ? 'unknown_error' : String(code), message, providerSide: !inputSideCode(code) } };
  }
  return state ? { state } : null;
}

/** Adapter for PiAPI's unified task API. */
export function createPiapiAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? PIAPI.defaultBaseUrl;
  const apiKey = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ 'x-api-key': apiKey });

  return {
    type: 'piapi',
    capabilities: { models: ['kling-v3-motion-control'], cancel: false, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      if (req.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', 'piapi cannot create custom elements');
      if (req.elementIds?.length) throw new ProviderError('invalid_request', 'piapi motion control does not take elements');
      const body = {
        model: PIAPI.model,
        task_type: PIAPI.taskType,
        input: {
          image_url: req.imageUrl,
          video_url: req.videoUrl,
          motion_direction: req.orientation,
          keep_original_sound: req.keepOriginalSound,
          mode: PIAPI.mode[req.quality],
          version: PIAPI.version,
          // Not listed in PROVIDERS.md for PiAPI (unverified); Kling motion control takes one.
          ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
        },
        ...(input.webhookUrl ? { config: { webhook_config: { endpoint: input.webhookUrl, secret: input.webhookSecret ?? '' } } } : {}),
      };
      const res = await sendJson({ method: 'POST', url: joinUrl(base, PIAPI.createPath), headers: headers(), body, timeoutMs: createTimeout });
      const err = answerError(res, 'create');
      if (err) throw err;
      const parsed = task.safeParse((res.body as { data?: unknown }).data);
      if (!parsed.success) throw badShape('create', res);
      // A fresh task may show an empty status word; anything not yet running is pending.
      const state = STATE_FOR[parsed.data.status.toLowerCase()] === 'processing' ? 'processing' : 'pending';
      return { upstreamId: parsed.data.task_id, state };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      if (ref.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', `piapi does not serve ${ref.model}`);
      const res = await sendJson({ method: 'GET', url: joinUrl(base, PIAPI.taskPath(ref.upstreamId)), headers: headers(), timeoutMs: readTimeout });
      const err = answerError(res, 'status');
      if (err) throw err;
      const parsed = task.safeParse((res.body as { data?: unknown }).data);
      if (!parsed.success) throw badShape('status', res);
      const status = statusOf(parsed.data);
      if (!status) throw new ProviderError('bad_response', `piapi task status "${parsed.data.status}" without a usable output`, { status: res.status });
      return status;
    },

    /**
     * Webhook body `{timestamp, data: task}`. PiAPI echoes the per-task secret in `x-webhook-secret`;
     * the adapter keeps no secrets, so checking it against the `webhookSecret` sent at create is the
     * caller's job. This only parses.
     */
    parseWebhook(body: unknown): WebhookEvent | null {
      const hook = z.object({ timestamp: z.unknown().optional(), data: z.unknown() }).safeParse(body);
      if (!hook.success) return null;
      const parsed = task.safeParse(hook.data.data);
      if (!parsed.success) return null;
      const status = statusOf(parsed.data);
      return status ? { upstreamId: parsed.data.task_id, status } : null;
    },
  };
}

/** Factory registered under type `piapi`. */
export const piapiFactory: AdapterFactory = {
  type: 'piapi',
  defaultBaseUrl: PIAPI.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': {
      price: { per_second: { ...PIAPI.price } },
      asOf: PIAPI.priceAsOf,
      source: PIAPI.priceSource,
    },
  },
  create: createPiapiAdapter,
};
