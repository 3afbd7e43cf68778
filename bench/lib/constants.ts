/** Values shared by the parent (load generator) and the child servers. */
export const FAL_MODEL_ID = 'fal-ai/kling-video/v3/standard/motion-control';
export const FAL_KEY = 'fal-bench-key';
export const PROVIDER_ID = 'fal-bench';
export const ADMIN_KEY = 'rr_admin_bench_secret';
/** fal's default 720p price (providers/fal/adapter.ts), micro-USD per second. */
export const UNIT_MICROS = 126_000;
export const UNITS = 5;
