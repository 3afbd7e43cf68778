/** POST /v1/videos/generations — validate, quote, hold, send upstream; answers the task object. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { prepareDeps, renderTask, type AppDeps } from '../deps.ts';
import { readJson } from '../middleware.ts';
import { prepare } from '../../tasks/prepare.ts';
import { submit } from '../../tasks/submit.ts';

export function createRoute(app: Hono<AppEnv>, deps: AppDeps): void {
  app.post('/v1/videos/generations', async (c) => {
    const key = c.get('apiKey');
    const prepared = await prepare(await readJson(c), key.id, prepareDeps(deps));
    const taskId = await submit(deps.ctx, key, prepared);
    return c.json(renderTask(deps, deps.ctx.store.tasks.get(taskId)!));
  });
}
