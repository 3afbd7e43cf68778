/** POST /v1/tasks/{id}/cancel — cancel upstream where the provider allows it; refund the hold. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { renderTask, type AppDeps } from '../deps.ts';
import { ownTask } from './read.ts';
import { cancel } from '../../tasks/cancel.ts';

export function cancelRoute(app: Hono<AppEnv>, deps: AppDeps): void {
  app.post('/v1/tasks/:id/cancel', async (c) => {
    const task = await ownTask(deps, c, c.req.param('id'));
    await cancel(deps.ctx, task.id);
    const { task: ended, attempts } = (await deps.ctx.store.tasks.getWithAttempts(task.id))!;
    return c.json(renderTask(deps, ended, attempts));
  });
}
