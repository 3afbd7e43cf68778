/** GET /v1/tasks/{id} (also /v1/videos/generations/{id}) and GET /v1/tasks (cursor list). */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { renderTask, type AppDeps } from '../deps.ts';
import { ApiError } from '../../errors.ts';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(64).optional(),
});

/** A task of this key, or 404 (another key's task is indistinguishable from a missing one). */
export async function ownTask(deps: AppDeps, c: Context<AppEnv>, id: string) {
  const task = await deps.ctx.store.tasks.get(id);
  if (!task || task.keyId !== c.get('apiKey').id) throw new ApiError('not_found', `no task ${id}`, { param: 'id' });
  return task;
}

export function readRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const getOne = async (c: Context<AppEnv>) => {
    const id = c.req.param('id')!;
    const found = await deps.ctx.store.tasks.getWithAttempts(id);
    if (!found || found.task.keyId !== c.get('apiKey').id) throw new ApiError('not_found', `no task ${id}`, { param: 'id' });
    return c.json(renderTask(deps, found.task, found.attempts));
  };
  app.get('/v1/tasks/:id', getOne);
  app.get('/v1/videos/generations/:id', getOne);

  app.get('/v1/tasks', async (c) => {
    const q = listQuery.safeParse(c.req.query());
    if (!q.success) {
      const issue = q.error.issues[0]!;
      throw new ApiError('invalid_parameter', `${String(issue.path[0])}: ${issue.message}`, { param: String(issue.path[0]) });
    }
    const rows = await deps.ctx.store.tasks.listForKey(c.get('apiKey').id, q.data.limit + 1, q.data.after);
    const page = rows.slice(0, q.data.limit);
    const data = await Promise.all(page.map(async (t) => renderTask(deps, t, await deps.ctx.store.tasks.attempts(t.id))));
    return c.json({ object: 'list', data, has_more: rows.length > q.data.limit });
  });
}
