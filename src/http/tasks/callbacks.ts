/** GET /v1/tasks/{id}/callbacks (delivery attempts) and POST /v1/tasks/{id}/callbacks/retry (send again, same webhook-id). */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { ownTask } from './read.ts';
import { deliveryView } from '../../callbacks/outbox.ts';
import { ApiError } from '../../errors.ts';

export function callbackRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, now } = deps.ctx;
  app.get('/v1/tasks/:id/callbacks', async (c) => {
    const task = await ownTask(deps, c, c.req.param('id'));
    return c.json({ object: 'list', data: (await store.deliveries.forTask(task.id)).map(deliveryView) });
  });
  app.post('/v1/tasks/:id/callbacks/retry', async (c) => {
    const task = await ownTask(deps, c, c.req.param('id'));
    const latest = (await store.deliveries.forTask(task.id))[0];
    if (!latest) throw new ApiError('not_found', task.callbackUrl ? 'the task has not ended yet; nothing to re-send' : 'the task has no callback_url');
    if (latest.status === 'pending') return c.json(deliveryView(latest));
    await store.deliveries.update(latest.id, { status: 'pending', attempts: 0, nextAttemptAt: now(), updatedAt: now() });
    return c.json(deliveryView((await store.deliveries.get(latest.id))!));
  });
}
