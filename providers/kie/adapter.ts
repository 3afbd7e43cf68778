/**
 * kie.ai adapter: Kling 3.0 motion control through kie's generic jobs API
 * (`createTask` → poll `recordInfo`, optional `callBackUrl`).
 *
 * kie reports errors as an HTTP-like `code` in a `{code, msg, data}` envelope, often with HTTP 200,
 * so every answer is classified by its body code first and by the HTTP status only when the body
 * carries none (a proxy or load balancer in front of kie). No cancel, no elements, no lookup.
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
  type UpstreamStatus,
  type WebhookEvent,
} from '../types.ts';

// ─── Assumptions (PROVIDERS.md, partly unverified): correct them here ──────────────────────────
const KIE = {
  defaultBaseUrl: 'https://api.kie.ai',
  createPath: '/api/v1/jobs/createTask',
  recordPath: (id: string) => `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(id)}`,
  model: 'kling-3.0/motion-control',
  /** kie takes the tier as the resolution itself; `std`/`pro` are rejected. */
  mode: { '720p': '720p', '1080p': '1080p' },
  okCode: 200,
  /**
   * Credits per output second. These are the Kling **2.6** motion-control numbers; kie's 3.0 price
   * is unverified and assumed equal until read from kie's pricing page.
   */
  price: { '720p': 11, '1080p': 18 },
  creditUsd: 0.005,
  priceAsOf: '2026-11-25',
  priceSource: 'PROVIDERS.md, kie.ai pricing for Kling 2.6 motion control (3.0 unverified), https://kie.ai/pricing',
} as const;
/**
 * failCode values that blame the input (bad parameters, oversized media, content policy), read as
 * the HTTP-like codes kie uses elsewhere: such a task must not fail over. Any other failCode (500,
 * 501 "generation failed", 505, empty, unknown) is read as kie's or Kling's fault. Unverified: kie
 * does not publish a failCode list; correct this set when real failures are seen.
 */
export const KIE_INPUT_FAIL_CODES: ReadonlySet<string> = new Set(['400', '413', '422', '451']);
/** Body code kie uses for "service unavailable / maintenance" (below 500, so name it). */
const MAINTENANCE_CODE = 455;
// ────────────────────────────────────────────────────────────────────────────────────────────────

const envelope = z.object({ code: z.number().int(), msg: z.string().nullish(), data: z.unknown().optional() });
const createData = z.object({ taskId: z.string().min(1) });
/** A task record, as recordInfo and (assumed, unverified) the callback carry it. */
const record = z.object({
  taskId: z.string().min(1),
  state: z.enum(['waiting', 'queuing', 'generating', 'success', 'fail']),
  resultJson: z.unknown().optional(),
  failCode: z.union([z.string(), z.number()]).nullish(),
  failMsg: z.string().nullish(),
});
const resultJsonShape = z.object({ resultUrls: z.array(z.string().min(1)).min(1) });

type Op = 'create' | 'status';

/** An error code (body or HTTP) → kind, with the two readings that depend on the call. */
function kindForCode(code: number, op: Op): ProviderErrorKind {
  // A create that kie answers 404 means the endpoint or model is gone: kie's side, fail over.
  if (code === 404 && op === 'create') return 'unavailable';
  // A poll sends nothing but the task id, so a validation error can only mean an id kie does not know.
  if (code === 422 && op === 'status') return 'not_found';
  if (code === MAINTENANCE_CODE) return 'unavailable';
  return kindForStatus(code);
}

/** Classify an answer: null when it is a success envelope, else the error to throw. */
function answerError(res: JsonResponse, op: Op): ProviderError | null {
  const env = envelope.safeParse(res.body);
  const httpOk = res.status >= 200 && res.status < 300;
  if (httpOk && !env.success) return badShape(op, res);
  const bodyCode = env.success ? env.data.code : undefined;
  if (httpOk && bodyCode === KIE.okCode) return null;
  // The body's code is kie's own word; the HTTP status is the fallback (e.g. a proxy's 502).
  const code = bodyCode !== undefined && bodyCode !== KIE.okCode ? bodyCode : res.status;
  const msg = env.success && env.data.msg ? `: ${env.data.msg}` : '';
  return new ProviderError(kindForCode(code, op), `kie ${op} answered code ${code} (HTTP ${res.status})${msg}`, {
    status: res.status,
    code: String(code),
  });
}

function badShape(op: Op, res: JsonResponse): ProviderError {
  return new ProviderError('bad_response', `kie ${op} answer has an unexpected shape (HTTP ${res.status})`, { status: res.status });
}

/** `resultJson` is a JSON *string*; parse it without ever throwing. Null when unusable. */
export function parseResultUrls(resultJson: unknown): string[] | null {
  let value: unknown = resultJson;
  if (typeof resultJson === 'string') {
    try {
      value = JSON.parse(resultJson);
    } catch {
      return null;
    }
  }
  const parsed = resultJsonShape.safeParse(value);
  return parsed.success ? parsed.data.resultUrls : null;
}

/** A parsed record → status; null when a `success` carries no usable result URL. */
function statusOf(r: z.infer<typeof record>): UpstreamStatus | null {
  switch (r.state) {
    case 'waiting':
    case 'queuing':
      return { state: 'pending' };
    case 'generating':
      return { state: 'processing' };
    case 'success': {
      const urls = parseResultUrls(r.resultJson);
      return urls ? { state: 'completed', progress: 100, outputs: urls } : null;
    }
    case 'fail': {
      const code = r.failCode === null || r.failCode === undefined || r.failCode === '' ? 'unknown_error' : String(r.failCode);
      const message = r.failMsg || 'kie task failed';
      return { state: 'failed', error: { code, message, providerSide: !KIE_INPUT_FAIL_CODES.has(code) } };
    }
  }
}

/** Adapter for kie.ai's jobs API. */
export function createKieAdapter(options: AdapterOptions): ProviderAdapter {
  const base = options.baseUrl ?? KIE.defaultBaseUrl;
  const apiKey = options.apiKey ?? '';
  // Creates get the longest budget: losing one mid-flight leaves an unknown (maybe billed) task.
  const createTimeout = options.timeoutMs ?? 30_000;
  const readTimeout = options.timeoutMs ?? 15_000;
  const headers = (): Record<string, string> => ({ authorization: `Bearer ${apiKey}` });

  return {
    type: 'kie',
    capabilities: { models: ['kling-v3-motion-control'], cancel: false, lookup: false, webhooks: true },

    async create(input: CreateInput): Promise<CreateResult> {
      const req = input.request;
      if (req.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', 'kie cannot create custom elements');
      if (req.elementIds?.length) throw new ProviderError('invalid_request', 'kie motion control does not take elements');
      // kie documents no sound switch: keepOriginalSound cannot be passed and is not sent.
      const body = {
        model: KIE.model,
        input: {
          input_urls: [req.imageUrl],
          video_urls: [req.videoUrl],
          character_orientation: req.orientation,
          mode: KIE.mode[req.quality],
          ...(req.prompt !== undefined ? { prompt: req.prompt } : {}),
        },
        ...(input.webhookUrl ? { callBackUrl: input.webhookUrl } : {}),
      };
      const res = await sendJson({ method: 'POST', url: joinUrl(base, KIE.createPath), headers: headers(), body, timeoutMs: createTimeout });
      const err = answerError(res, 'create');
      if (err) throw err;
      const data = createData.safeParse((res.body as { data?: unknown }).data);
      if (!data.success) throw badShape('create', res);
      return { upstreamId: data.data.taskId, state: 'pending' };
    },

    async status(ref: TaskRef): Promise<UpstreamStatus> {
      if (ref.model !== 'kling-v3-motion-control') throw new ProviderError('invalid_request', `kie does not serve ${ref.model}`);
      const res = await sendJson({ method: 'GET', url: joinUrl(base, KIE.recordPath(ref.upstreamId)), headers: headers(), timeoutMs: readTimeout });
      const err = answerError(res, 'status');
      if (err) throw err;
      const parsed = record.safeParse((res.body as { data?: unknown }).data);
      if (!parsed.success) throw badShape('status', res);
      const status = statusOf(parsed.data);
      // A success without readable result URLs is a broken answer, not a finished task.
      if (!status) throw new ProviderError('bad_response', 'kie reported success but resultJson holds no resultUrls', { status: res.status });
      return status;
    },

    /**
     * The callBackUrl body, assumed (unverified) to be recordInfo's `{code, msg, data}` envelope.
     * A body without a readable record, or a success without result URLs, is ignored: polling
     * will tell the truth.
     */
    parseWebhook(body: unknown): WebhookEvent | null {
      const env = envelope.safeParse(body);
      if (!env.success) return null;
      const parsed = record.safeParse(env.data.data);
      if (!parsed.success) return null;
      const status = statusOf(parsed.data);
      return status ? { upstreamId: parsed.data.taskId, status } : null;
    },
  };
}

/** Factory registered under type `kie`. Prices are kie credits worth `credit_usd` each. */
export const kieFactory: AdapterFactory = {
  type: 'kie',
  defaultBaseUrl: KIE.defaultBaseUrl,
  defaultPrices: {
    'kling-v3-motion-control': {
      price: { per_second: { ...KIE.price }, credit_usd: KIE.creditUsd },
      asOf: KIE.priceAsOf,
      source: KIE.priceSource,
    },
  },
  create: createKieAdapter,
};
