/**
 * The adapter interface: what reelroute needs from an upstream provider, and nothing more.
 *
 * Adapters never touch the database or Hono. They take a normalized request and return data, or
 * throw a {@link ProviderError} whose `kind` says what the router should do next.
 */

export const QUALITIES = ['720p', '1080p'] as const;
export type Quality = (typeof QUALITIES)[number];

export const MODELS = ['kling-v3-motion-control', 'kling-custom-element'] as const;
export type CanonicalModel = (typeof MODELS)[number];

export const UPSTREAM_STATES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type UpstreamState = (typeof UPSTREAM_STATES)[number];

/** Motion control: the character in `imageUrl` performs the motion of `videoUrl`. */
export interface MotionRequest {
  model: 'kling-v3-motion-control';
  imageUrl: string;
  videoUrl: string;
  quality: Quality;
  prompt?: string;
  orientation: 'image' | 'video';
  keepOriginalSound: boolean;
  /** Upstream element ids (already translated from the gateway's `el_…` ids). */
  elementIds?: string[];
}

/** Custom element creation: a reusable subject learned from a short face video. */
export interface ElementRequest {
  model: 'kling-custom-element';
  name: string;
  description: string;
  referenceType: 'video_refer';
  videoUrl: string;
}

export type UpstreamRequest = MotionRequest | ElementRequest;

export interface CreateInput {
  request: UpstreamRequest;
  /**
   * Unique per attempt; sent upstream where the provider supports it (Kling `external_task_id`)
   * so that a create whose answer was lost can be found again instead of sent twice.
   */
  attemptId: string;
  /** Where the provider should POST status changes, when the gateway has a public URL. */
  webhookUrl?: string;
  /** Per-task secret for providers that echo one back (PiAPI `webhook_config.secret`). */
  webhookSecret?: string;
}

/** What the gateway remembers about an upstream task, enough to poll or cancel it later. */
export interface TaskRef {
  upstreamId: string;
  model: CanonicalModel;
  quality: Quality;
  /** What the adapter returned as {@link CreateResult.handle} for this attempt, if anything. */
  handle?: string;
}

export interface UpstreamStatus {
  state: UpstreamState;
  /** 0–100 where the provider reports it. */
  progress?: number;
  /** Output video URLs (motion control). */
  outputs?: string[];
  /** Output duration in seconds, when the provider reports it. */
  outputDurationS?: number;
  /** Upstream element id (element creation), always a string here. */
  elementId?: string;
  /** Set when `state` is `failed`. */
  error?: UpstreamFailure;
}

export interface UpstreamFailure {
  code: string;
  message: string;
  /** True when the failure is the provider's (fail over); false when the input is at fault. */
  providerSide: boolean;
}

export interface CreateResult extends UpstreamStatus {
  upstreamId: string;
  /**
   * Opaque, adapter-defined data the engine stores with the attempt and hands back in
   * {@link TaskRef.handle} (fal: the status/response/cancel URLs its submit returned).
   */
  handle?: string;
}

/**
 * How a call failed, which decides what happens next:
 * - `rate_limited`, `unavailable`, `auth`, `bad_response`: provider-side, try the next provider;
 * - `invalid_request`: the input is at fault, answer 400 `upstream_rejected`, no failover;
 * - `timeout`, `unknown_outcome`: the request may have been accepted; reconcile before deciding;
 * - `not_found`: the upstream does not know the id (lookup/poll).
 */
export type ProviderErrorKind =
  | 'rate_limited'
  | 'auth'
  | 'invalid_request'
  | 'unavailable'
  | 'timeout'
  | 'unknown_outcome'
  | 'bad_response'
  | 'not_found';

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  /** HTTP status when one came back. */
  readonly status: number | undefined;
  /** The provider's own structured error code, when it sent one. */
  readonly code: string | undefined;

  constructor(kind: ProviderErrorKind, message: string, opts: { status?: number; code?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.retryable = kind !== 'invalid_request' && kind !== 'not_found';
    this.status = opts.status;
    this.code = opts.code;
  }
}

/** A price as the operator or the adapter states it. USD unless `credit_usd` is given. */
export type PriceSpec =
  | { per_second: Record<Quality, number>; credit_usd?: number }
  | { per_request: number; credit_usd?: number };

export interface DefaultPrice {
  price: PriceSpec;
  /** When the price was read, and where. */
  asOf: string;
  source: string;
}

export interface AdapterCapabilities {
  models: readonly CanonicalModel[];
  cancel: boolean;
  /** `findByAttemptId` works: a lost create can be looked up. */
  lookup: boolean;
  webhooks: boolean;
}

/** A webhook delivery from the provider, already parsed into a status. */
export interface WebhookEvent {
  upstreamId: string;
  status: UpstreamStatus;
}

export interface ProviderAdapter {
  readonly type: string;
  readonly capabilities: AdapterCapabilities;
  /** Start an upstream task. Throws {@link ProviderError}. */
  create(input: CreateInput): Promise<CreateResult>;
  /** Current status of an upstream task. Throws {@link ProviderError}. */
  status(ref: TaskRef): Promise<UpstreamStatus>;
  /** Ask the provider to cancel; resolves when the provider accepted the cancel. */
  cancel?(ref: TaskRef): Promise<void>;
  /** Find the task created by the attempt with this id (Kling `external_task_id`); null if none exists. */
  findByAttemptId?(attemptId: string, model: CanonicalModel, quality: Quality): Promise<CreateResult | null>;
  /** Parse an inbound webhook body; null when it is not for us or not a status change. */
  parseWebhook?(body: unknown, headers: Headers): WebhookEvent | null;
}

/** What an adapter factory receives from the config. */
export interface AdapterOptions {
  baseUrl?: string;
  apiKey?: string;
  accessKey?: string;
  secretKey?: string;
  /** Timeout for every outbound call, ms. */
  timeoutMs?: number;
  /** Injected clock (ms since epoch), for JWTs and tests. */
  now?: () => number;
}

export interface AdapterFactory {
  readonly type: string;
  readonly defaultBaseUrl: string;
  readonly defaultPrices: Partial<Record<CanonicalModel, DefaultPrice>>;
  create(options: AdapterOptions): ProviderAdapter;
}
