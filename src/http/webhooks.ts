/**
 * POST /webhooks/{provider}/{token} — status pushes from upstream providers. The per-attempt
 * token in the path authenticates the delivery (plus the provider's echoed secret where it sends
 * one); applying is idempotent, and polling stays on as the safety net.
 */
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import type { AppDeps } from './deps.ts';
import { readJson } from './middleware.ts';
import { ApiError } from '../errors.ts';
import { providerById } from '../tasks/context.ts';
import { sameSecret } from '../keys/keys.ts';
import type { Poller } from '../tasks/poller.ts';

export function webhookRoutes(app: Hono<AppEnv>, deps: AppDeps, poller: Poller): void {
  app.post('/webhooks/:provider/:token', async (c) => {
    const { provider: providerId, token } = c.req.param();
    const attempt = await deps.ctx.store.tasks.attemptByWebhookToken(token);
    if (!attempt || attempt.providerId !== providerId || !attempt.webhookToken || !sameSecret(token, attempt.webhookToken)) {
      throw new ApiError('not_found', 'unknown webhook');
    }
    // PiAPI echoes the secret we registered; when a provider sends one it must match.
    const echoed = c.req.header('x-webhook-secret');
    if (echoed !== undefined && !sameSecret(echoed, attempt.webhookToken)) throw new ApiError('invalid_api_key', 'webhook secret does not match');
    const adapter = providerById(deps.ctx, providerId)?.adapter;
    const event = adapter?.parseWebhook?.(await readJson(c), c.req.raw.headers) ?? null;
    if (!event || event.upstreamId !== attempt.upstreamId) return c.json({ received: true, applied: false });
    const applied = await poller.applyEvent(attempt.id, event.status);
    return c.json({ received: true, applied });
  });
}
