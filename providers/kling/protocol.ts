/**
 * Kling (official API) protocol knowledge for the adapter: every assumption in one block at the
 * top, then the answer schemas and the pure readings (status words, error codes, task failures,
 * outputs, webhooks). No HTTP here; see ./adapter.ts.
 */
import { z } from 'zod';
import type { ProviderErrorKind, Quality, UpstreamState, UpstreamStatus } from '../types.ts';

// ─── Assumptions (PROVIDERS.md, partly unverified): correct them here ──────────────────────────
/** Paths, JWT timings and default prices. */
export const KLING = {
  defaultBaseUrl: 'https://api-singapore.klingai.com',
  /** New format (api_key Bearer). */
  motionPath: '/motion-control/kling-3.0',
  queryPath: '/tasks',
  /** Legacy format (JWT Bearer). */
  elementPath: '/v1/general/advanced-custom-elements',
  elementQueryPath: (id: string) => `/v1/general/advanced-custom-elements/${encodeURIComponent(id)}`,
  /** JWT: HS256, `{iss: access_key, exp: now+1800, nbf: now-5}`; re-signed when < 5 min are left. */
  jwtLifetimeS: 1800,
  jwtNotBeforeSkewS: 5,
  jwtRenewBeforeS: 300,
  /**
   * Prices in Kling units (credit_usd 0.14 = $ per unit at list, ≈ $0.126/s and $0.168/s).
   * Element creation price is UNVERIFIED: 0.1 unit (≈ $0.014) per element is a placeholder.
   */
  creditUsd: 0.14,
  motionUnitsPerSecond: { '720p': 0.9, '1080p': 1.2 } as Record<Quality, number>,
  elementUnitsPerRequest: 0.1,
  priceAsOf: '2026-11-25',
  motionPriceSource: 'PROVIDERS.md: Kling 3.0 motion control 0.9 units/s (720p), 1.2 units/s (1080p), $0.14/unit at list',
  elementPriceSource: 'PROVIDERS.md: element price unverified; 0.1 unit per element is a placeholder',
  /**
   * An element in a motion task's `contents` (second-hand, PROVIDERS.md): `element_id` as a string,
   * and an `id` unique within the task. `element_{n}` (1-based, in request order) is our choice of id.
   */
  elementItem: (elementId: string, index: number) => ({ type: 'element', id: `element_${index + 1}`, element_id: elementId }),
} as const;
/**
 * Error codes (PROVIDERS.md) → what the router does. Readings of ours:
 * - 1103 (no permission) and 1304 (IP whitelist) are `auth`: not transient, but the provider's side.
 * - 1100–1102/1104 (account, arrears, pack used up) are `unavailable`, like an HTTP 402.
 * - 5002 (server timeout) is `unavailable`: an answered error, so the create is taken as not made.
 * - 1202/1203 are `not_found` on queries; on a create they mean a referenced resource (an element)
 *   does not exist, which is the input's fault (`invalid_request`, no failover).
 * - Unknown non-zero codes follow the HTTP status, or `bad_response` on HTTP 2xx.
 */
export function kindForCode(code: number): ProviderErrorKind | undefined {
  if (code >= 1000 && code <= 1004) return 'auth';
  if (code === 1103 || code === 1304) return 'auth';
  if (code >= 1100 && code <= 1104) return 'unavailable';
  if (code === 1200 || code === 1201 || code === 1300 || code === 1301) return 'invalid_request';
  if (code === 1202 || code === 1203) return 'not_found';
  if (code === 1302 || code === 1303) return 'rate_limited';
  if (code >= 5000 && code <= 5002) return 'unavailable';
  return undefined;
}
/**
 * Failed tasks (reading, unverified): a failed task object may carry a numeric `code` (same table;
 * only invalid_request/not_found codes are the input's fault). Without a code the failure is taken
 * as provider-side. `message`/`task_status_msg` text is never used to decide.
 */
export const FAILED_WITHOUT_CODE = 'kling_task_failed';
/*
 * Task ids are strings (a number id is a bad answer). Element ids come back as JSON numbers and are
 * read losslessly from the raw text (ids above 2^53 would otherwise be corrupted) and always sent
 * back as a string (see `elementItem` above).
 * Also (adapter.ts): a bare HTTP 404 (no code) on a create is `unavailable` (wrong path upstream);
 * an empty query list is `not_found`; element tasks have no documented lookup by external_task_id,
 * so findByAttemptId throws for them ("cannot tell"); callbacks are the task object of either format.
 */
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** A Kling code: a number, or a numeric string. */
const codeField = z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]);

/** The `{code, message, request_id, data}` envelope; `code` is required (0 = ok). */
export const envelope = z.object({
  code: codeField,
  message: z.string().nullish(),
  request_id: z.string().nullish(),
  data: z.unknown().optional(),
}).loose();

/** Create answer (new format). `status` is optional: a missing one reads as submitted. */
export const createdTask = z.object({
  id: z.string().min(1),
  status: z.enum(['submitted', 'processing', 'succeeded', 'failed']).optional(),
}).loose();

/** A task as the query lists it and callbacks send it (new format). */
export const taskItem = z.object({
  id: z.string().min(1),
  status: z.enum(['submitted', 'processing', 'succeeded', 'failed']),
  message: z.string().nullish(),
  code: codeField.nullish(),
  external_id: z.string().nullish(),
  outputs: z.array(z.object({
    type: z.string().nullish(),
    url: z.string().nullish(),
    duration: z.union([z.string(), z.number()]).nullish(),
  }).loose()).nullish(),
}).loose();
/** A parsed new-format task. */
export type TaskItem = z.infer<typeof taskItem>;

/** An element-creation task (legacy format), from the query and from callbacks. */
export const elementTask = z.object({
  task_id: z.string().min(1),
  task_status: z.enum(['submitted', 'processing', 'succeed', 'failed']),
  task_status_msg: z.string().nullish(),
  code: codeField.nullish(),
  task_result: z.object({
    elements: z.array(z.object({ element_id: z.union([z.number(), z.string().min(1)]) }).loose()).nullish(),
  }).loose().nullish(),
}).loose();
/** A parsed legacy element task. */
export type ElementTask = z.infer<typeof elementTask>;

/** The element-creation answer (legacy format). */
export const createdElement = z.object({
  task_id: z.string().min(1),
  task_status: z.enum(['submitted', 'processing', 'succeed', 'failed']).optional(),
}).loose();

const STATE: Record<string, UpstreamState> = {
  submitted: 'pending', processing: 'processing', succeeded: 'completed', succeed: 'completed', failed: 'failed',
};

/** Status word (either format) → normalized state. */
export function stateOf(word: string | undefined): UpstreamState {
  return STATE[word ?? 'submitted'] ?? 'pending';
}

/** A failed task → a failure, providerSide decided from its structured code only. */
export function taskFailure(code: number | null | undefined, message: string | null | undefined): UpstreamStatus {
  const kind = code === null || code === undefined ? undefined : kindForCode(code);
  const inputSide = kind === 'invalid_request' || kind === 'not_found';
  const text = message || 'kling task failed';
  const errCode = code === null || code === undefined ? FAILED_WITHOUT_CODE : String(code);
  return { state: 'failed', error: { code: errCode, message: text, providerSide: !inputSide } };
}

/** `"7"` → 7; anything that is not a positive finite number → undefined. */
export function parseDuration(d: string | number | null | undefined): number | undefined {
  if (d === null || d === undefined || d === '') return undefined;
  const n = typeof d === 'number' ? d : Number(d.trim());
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** New-format task → status; null when a succeeded task has no video URL. */
export function motionStatus(item: TaskItem): UpstreamStatus | null {
  const state = stateOf(item.status);
  if (state === 'failed') return taskFailure(item.code, item.message);
  if (state !== 'completed') return { state };
  const videos = (item.outputs ?? []).filter((o) => (o.type ?? 'video') === 'video' && typeof o.url === 'string' && o.url.length > 0);
  if (videos.length === 0) return null;
  const duration = parseDuration(videos[0]!.duration);
  return { state, progress: 100, outputs: videos.map((v) => v.url!), ...(duration !== undefined ? { outputDurationS: duration } : {}) };
}

/** Legacy element task → status; null when a succeeded task names no element. */
export function elementStatus(task: ElementTask): UpstreamStatus | null {
  const state = stateOf(task.task_status);
  if (state === 'failed') return taskFailure(task.code, task.task_status_msg);
  if (state !== 'completed') return { state };
  const id = task.task_result?.elements?.[0]?.element_id;
  if (id === undefined || String(id).length === 0) return null;
  return { state, progress: 100, elementId: String(id) };
}

/**
 * Parse a JSON answer keeping `element_id` numbers exact: they are quoted before parsing. A
 * `"element_id":` key followed by digits cannot occur inside a JSON string (its quotes would be
 * escaped there), so only real keys are touched.
 */
export function parseLossless(text: string): unknown {
  try {
    return JSON.parse(text.replace(/("element_id"\s*:\s*)(-?\d+)(?=\s*[,}\]])/g, '$1"$2"'));
  } catch {
    return undefined;
  }
}
