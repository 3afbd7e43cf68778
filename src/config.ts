/**
 * The config file (YAML; JSON is valid YAML) and environment, validated once at start-up.
 * `${VAR}` is replaced from the environment; a missing variable or a bad field stops the start with
 * a message that names it.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MODELS, QUALITIES } from '../providers/types.ts';
import { paramFromPath } from './errors.ts';
import { RULE_BY_MODEL } from './pricing/prices.ts';

const usd = z.number().nonnegative().finite();
const perQuality = z.strictObject(Object.fromEntries(QUALITIES.map((q) => [q, usd])) as Record<(typeof QUALITIES)[number], typeof usd>);

export const priceSchema = z.union([
  z.strictObject({ per_second: perQuality, credit_usd: usd.positive().optional() }),
  z.strictObject({ per_request: usd, credit_usd: usd.positive().optional() }),
]);

const modelEntry = z.strictObject({ price: priceSchema.optional(), enabled: z.boolean().default(true) });
const modelName = z.enum(MODELS);

export const providerSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _ (at most 63)'),
  type: z.string().min(1),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  api_key: z.string().min(1).optional(),
  access_key: z.string().min(1).optional(),
  secret_key: z.string().min(1).optional(),
  priority: z.number().int().default(0),
  enabled: z.boolean().default(true),
  timeout_ms: z.number().int().positive().default(30_000),
  models: z.partialRecord(modelName, modelEntry).optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      public_base_url: z.url({ protocol: /^https?$/ }).optional(),
      body_limit_bytes: z.number().int().positive().default(256 * 1024),
      /** Slow clients (src/http/slow-clients.ts): headers and JSON bodies have deadlines, uploads a minimum rate. */
      headers_timeout_ms: z.number().int().positive().default(10_000),
      body_timeout_ms: z.number().int().positive().default(30_000),
      upload_min_bytes_per_s: z.number().int().min(0).default(32 * 1024),
      upload_rate_window_ms: z.number().int().positive().default(10_000),
      max_connections: z.number().int().positive().default(2_048),
      /** Per-API-key request rate limit; rps 0 = off. */
      rate_limit: z
        .strictObject({
          rps: z.number().min(0).default(0),
          burst: z.number().int().positive().default(100),
          /** Creates + estimates per key (each may read a remote video header): on by default; 0 = off. */
          create_rps: z.number().min(0).default(10),
          create_burst: z.number().int().positive().default(100),
        })
        .prefault({}),
    })
    .prefault({}),
  callbacks: z
    .strictObject({
      allow_insecure: z.boolean().default(false),
      timeout_ms: z.number().int().positive().default(10_000),
      max_retries: z.number().int().min(0).max(10).default(3),
      /** Deliveries sent at once, over all receivers. */
      concurrency: z.number().int().positive().default(16),
      /** Deliveries sent at once to one receiver host: a hanging receiver cannot take every slot. */
      per_host_concurrency: z.number().int().positive().default(4),
      /** Due deliveries read per tick (each receiver host's oldest first, a few per host). */
      batch: z.number().int().positive().default(100),
    })
    .prefault({}),
  routing: z
    .strictObject({
      max_attempts: z.number().int().min(1).max(10).default(3),
      breaker_failures: z.number().int().min(1).default(5),
      breaker_cooldown_ms: z.number().int().min(0).default(30_000),
    })
    .prefault({}),
  polling: z
    .strictObject({
      initial_ms: z.number().int().positive().default(2_000),
      max_ms: z.number().int().positive().default(30_000),
      per_provider_concurrency: z.number().int().positive().default(32),
      batch: z.number().int().positive().default(500),
    })
    .prefault({}),
  media: z
    .strictObject({
      probe_timeout_ms: z.number().int().positive().default(5_000),
      probe_max_bytes: z.number().int().positive().default(4 * 1024 * 1024),
      cache_ttl_ms: z.number().int().min(0).default(10 * 60_000),
      /** Probe bounds (src/media/probe-gate.ts): running at once, waiting, bytes held, per API key. */
      probe_max_concurrent: z.number().int().positive().default(16),
      probe_max_queued: z.number().int().min(0).default(64),
      probe_max_bytes_in_flight: z.number().int().positive().default(64 * 1024 * 1024),
      probe_per_key: z.number().int().positive().default(4),
    })
    .prefault({}),
  /** Uploads and mirrored outputs (CONTRACT §8; docs/files.md). */
  files: z
    .strictObject({
      /** Where stored files live; default a `files` folder beside the database. */
      dir: z.string().min(1).optional(),
      /**
       * The folder is shared by every replica (a network volume): required with PostgreSQL, where
       * replicas serve each other's files (docs/deployment.md).
       */
      shared: z.boolean().default(false),
      max_bytes: z.number().int().positive().default(100 * 1024 * 1024),
      max_output_bytes: z.number().int().positive().default(2 * 1024 * 1024 * 1024),
      retention_hours: z.number().positive().finite().default(168),
      mirror_outputs: z.boolean().default(true),
      /** Default: on whenever upstreams can reach the gateway (public_base_url set, or demo mode). */
      pin_inputs: z.boolean().optional(),
      /** Output downloads running at once. */
      mirror_concurrency: z.number().int().positive().default(4),
      /** Tries per output before the task completes with the upstream URLs. */
      mirror_max_tries: z.number().int().positive().default(5),
      /** Per-request timeout of an output or input download (idle body included), ms. */
      download_timeout_ms: z.number().int().positive().default(60_000),
    })
    .prefault({}),
  /** The database: `REELROUTE_DB` wins over `url`. A postgres:// URL selects PostgreSQL; anything else is a SQLite path. */
  database: z
    .strictObject({
      url: z.string().min(1).optional(),
      /** PostgreSQL connections per replica. */
      pool_size: z.number().int().positive().max(1000).default(10),
    })
    .prefault({}),
  billing: z
    .strictObject({ models: z.partialRecord(modelName, priceSchema).optional() })
    .optional(),
  providers: z.array(providerSchema).default([]),
});

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type PriceConfig = z.infer<typeof priceSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Replace `${VAR}` in every string of a parsed document; a missing variable names its field. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(`${paramFromPath(path) ?? 'config'}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return value;
}

/** Validate a parsed document; throws ConfigError naming the first bad field. */
export function parseConfig(doc: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(interpolate(doc ?? {}, env));
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${paramFromPath(i.path) ?? 'config'}: ${i.message}`);
    throw new ConfigError(`invalid config: ${lines.join('; ')}`);
  }
  const ids = new Set<string>();
  result.data.providers.forEach((p, i) => {
    if (ids.has(p.id)) throw new ConfigError(`invalid config: providers[${i}].id: duplicate id "${p.id}"`);
    ids.add(p.id);
    for (const [model, entry] of Object.entries(p.models ?? {})) {
      const wrong = entry?.price && priceRuleMismatch(model, entry.price);
      if (wrong) throw new ConfigError(`invalid config: providers[${i}].models.${model}.price: ${wrong}`);
    }
  });
  for (const [model, spec] of Object.entries(result.data.billing?.models ?? {})) {
    const wrong = spec && priceRuleMismatch(model, spec);
    if (wrong) throw new ConfigError(`invalid config: billing.models.${model}: ${wrong}`);
  }
  return result.data;
}

/**
 * Why a price does not fit its model's billing rule, or null. A per-request price on a per-second
 * model would be multiplied by seconds (and the reverse charged once), so it is refused, not guessed.
 */
export function priceRuleMismatch(model: string, spec: PriceConfig): string | null {
  const rule = RULE_BY_MODEL[model as keyof typeof RULE_BY_MODEL];
  const given = 'per_second' in spec ? 'per_second' : 'per_request';
  return rule && rule !== given ? `${model} is billed ${rule}; a ${given} price does not fit it` : null;
}

export interface LoadedConfig {
  config: Config;
  /** Where it came from; null when no file exists (demo mode candidate). */
  path: string | null;
}

/** Read `REELROUTE_CONFIG` or `./reelroute.yaml` if present; HOST/PORT override the file. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const explicit = env.REELROUTE_CONFIG;
  const path = explicit ?? (existsSync('reelroute.yaml') ? 'reelroute.yaml' : null);
  let doc: unknown = {};
  if (path) {
    if (!existsSync(path)) throw new ConfigError(`REELROUTE_CONFIG: file not found: ${path}`);
    try {
      doc = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
    }
  }
  const config = parseConfig(doc, env);
  if (env.HOST) config.server.host = env.HOST;
  if (env.PORT) {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT: not a port number: ${env.PORT}`);
    config.server.port = port;
  }
  return { config, path };
}
