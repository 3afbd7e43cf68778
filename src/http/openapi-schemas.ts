/**
 * Response shapes for the OpenAPI document (requests come from the zod schemas that validate them).
 * These follow CONTRACT §3, §5, §8 and §9; JSON Schema 2020-12 as OpenAPI 3.1 uses it.
 */
const usd = { type: 'number', description: 'USD, at most 6 decimals' };
const nullable = (type: string) => ({ type: [type, 'null'] });
const obj = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({ type: 'object', properties, required });

export const ErrorEnvelope = obj({
  error: obj(
    {
      code: { type: 'string' },
      message: { type: 'string' },
      type: { type: 'string', enum: ['invalid_request_error', 'authentication_error', 'permission_error', 'insufficient_quota', 'rate_limit_error', 'upstream_error', 'api_error'] },
      param: nullable('string'),
      request_id: { type: 'string' },
    },
    ['code', 'message', 'type'],
  ),
});

export const Task = obj(
  {
    id: { type: 'string' },
    object: { const: 'video.generation.task' },
    model: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'processing', 'completed', 'failed', 'cancelled'] },
    progress: { type: 'integer' },
    created: { type: 'integer', description: 'unix seconds' },
    updated: { type: 'integer', description: 'unix seconds' },
    provider: nullable('string'),
    task_info: obj({ can_cancel: { type: 'boolean' }, estimated_time: { type: ['integer', 'null'], description: "seconds, from the provider's learned p50 completion" } }),
    usage: obj({
      billing_rule: { type: 'string', enum: ['per_second', 'per_request'] },
      billable_units: { type: 'integer' },
      unit_price_usd: usd,
      reserved_usd: usd,
      charged_usd: usd,
      refunded_usd: usd,
    }),
    results: { type: ['array', 'null'], items: { type: 'string', format: 'uri' } },
    result_data: { type: ['object', 'null'] },
    result_files: { type: 'array', items: { type: 'object' } },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    attempts: { type: 'array', items: { type: 'object', properties: { provider: { type: 'string' }, status: { type: 'string' }, upstream_id: nullable('string'), error: { type: 'object' } } } },
  },
  ['id', 'object', 'model', 'status', 'progress', 'created', 'updated', 'provider', 'task_info', 'usage', 'results', 'result_data', 'error', 'attempts'],
);

export const AdminTask = {
  allOf: [
    { $ref: '#/components/schemas/Task' },
    {
      type: 'object',
      properties: {
        key_id: { type: 'string' },
        upstream_cost_usd: usd,
        produced_units: { type: ['integer', 'null'] },
        underbilled: { type: 'boolean' },
        ledger: { type: 'array', items: { type: 'object' } },
      },
    },
  ],
};

export const Estimate = obj({
  model: { type: 'string' },
  billing_rule: { type: 'string' },
  billable_units: { type: 'integer' },
  reference_duration_s: { type: ['number', 'null'] },
  estimate_usd: { type: ['number', 'null'], description: 'what the calling key would pay' },
  chosen: nullable('string'),
  candidates: {
    type: 'array',
    items: obj({ provider: { type: 'string' }, priority: { type: 'integer' }, estimate_usd: { type: ['number', 'null'] }, eligible: { type: 'boolean' }, reason: nullable('string') }),
  },
});

export const Key = obj(
  {
    id: { type: 'string' },
    object: { const: 'api_key' },
    name: { type: 'string' },
    prefix: { type: 'string' },
    balance_usd: { type: ['number', 'null'] },
    daily_budget_usd: { type: ['number', 'null'] },
    monthly_budget_usd: { type: ['number', 'null'] },
    created: { type: 'integer' },
    revoked: { type: 'boolean' },
    route: { type: ['object', 'null'], description: 'default routing preferences' },
  },
  ['id', 'object', 'name', 'prefix', 'created', 'revoked'],
);

const health = obj(
  {
    state: { type: 'string', enum: ['closed', 'open', 'half_open'] },
    success_rate: { type: ['number', 'null'] },
    rejection_rate: { type: ['number', 'null'] },
    p50_completion_s: { type: ['number', 'null'] },
    p95_completion_s: { type: ['number', 'null'] },
    completions: { type: 'integer' },
    consecutive_failures: { type: 'integer' },
    open_until: { type: ['integer', 'null'], description: 'ms since the epoch' },
    next_probe_at: { type: ['integer', 'null'], description: 'ms since the epoch' },
  },
  ['state', 'success_rate', 'p50_completion_s', 'consecutive_failures', 'open_until'],
);

export const Provider = obj(
  {
    id: { type: 'string' },
    type: { type: 'string' },
    enabled: { type: 'boolean' },
    priority: { type: 'integer' },
    base_url: { type: 'string' },
    health: { oneOf: [health, { type: 'null' }] },
    models: { type: 'object', additionalProperties: obj({ enabled: { type: 'boolean' }, price: { type: 'object' }, health }) },
  },
  ['id', 'type', 'enabled', 'priority', 'health', 'models'],
);

export const File = obj(
  {
    id: { type: 'string' },
    object: { const: 'file' },
    bytes: { type: 'integer' },
    content_type: { type: 'string', enum: ['image/png', 'image/jpeg', 'image/webp', 'video/mp4', 'video/quicktime', 'video/webm'] },
    sha256: { type: 'string' },
    created: { type: 'integer' },
    expires_at: { type: 'integer' },
    url: { type: 'string', format: 'uri' },
    purpose: { type: 'string', enum: ['upload', 'output'] },
  },
  ['id', 'object', 'bytes', 'content_type', 'sha256', 'created', 'expires_at', 'url'],
);

export const SpendReport = {
  type: 'object',
  description: 'rows per group with tasks, completed, failed, cancelled, billable_units, reserved_usd, charged_usd, refunded_usd (admin: upstream_cost_usd, margin_usd), and totals',
  properties: { object: { type: 'string' }, from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' }, group_by: { type: 'array', items: { type: 'string' } }, data: { type: 'array', items: { type: 'object' } }, totals: { type: 'object' } },
};

export const Reconciliation = obj({
  provider: { type: 'string' },
  from: { type: 'string', format: 'date' },
  to: { type: 'string', format: 'date' },
  matched: { type: 'integer' },
  ours_total_usd: usd,
  theirs_total_usd: usd,
  difference_usd: { ...usd, description: 'theirs − ours' },
  mismatched: { type: 'array', items: obj({ upstream_id: { type: 'string' }, task_id: { type: 'string' }, ours_usd: usd, theirs_usd: usd }) },
  missing_from_statement: { type: 'array', items: obj({ upstream_id: { type: 'string' }, task_id: { type: 'string' }, ours_usd: usd }) },
  unknown_to_us: { type: 'array', items: obj({ upstream_id: { type: 'string' }, theirs_usd: usd }) },
});

/** `{object: "list", data: [...], has_more}` over a component schema. */
export const listOf = (ref: string) => obj({ object: { const: 'list' }, data: { type: 'array', items: { $ref: `#/components/schemas/${ref}` } }, has_more: { type: 'boolean' } }, ['object', 'data']);
