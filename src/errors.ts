/**
 * One error class and one code → status table. Every failure the API answers goes through
 * {@link ApiError} and {@link errorBody}, so clients see one envelope (CONTRACT §3).
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'api_error';

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  408: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'upstream_error',
  503: 'upstream_error',
};

/** Every error code the API can answer, with its HTTP status. */
export const ERROR_STATUS = {
  invalid_json: 400,
  invalid_parameter: 400,
  missing_parameter: 400,
  unknown_field: 400,
  unknown_model: 400,
  unknown_element: 400,
  video_duration_out_of_range: 400,
  invalid_media_url: 400,
  invalid_callback_url: 400,
  upstream_rejected: 400,
  max_cost_exceeded: 400,
  public_base_url_required: 400,
  invalid_element_video: 400,
  invalid_api_key: 401,
  missing_api_key: 401,
  insufficient_balance: 402,
  budget_exceeded: 402,
  permission_denied: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  task_not_cancellable: 409,
  idempotency_key_in_use: 409,
  payload_too_large: 413,
  file_too_large: 413,
  unsupported_media_type: 415,
  unsupported_file_type: 415,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal_error: 500,
  upstream_failed: 502,
  no_provider_available: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, opts: { param?: string | null; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.param = opts.param ?? null;
    this.headers = opts.headers;
  }
}

export interface ErrorEnvelope {
  error: { code: string; message: string; type: ErrorType; param: string | null; request_id: string };
}

/** The JSON body for an error. */
export function errorBody(err: ApiError, requestId: string): ErrorEnvelope {
  return {
    error: {
      code: err.code,
      message: err.message,
      type: TYPE_BY_STATUS[err.status] ?? 'api_error',
      param: err.param,
      request_id: requestId,
    },
  };
}

/** Zod issue path → the dotted `param` clients see (`model_params.element_name`, `image_urls[1]`). */
export function paramFromPath(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || null;
}
