/**
 * GET /admin/tasks and GET /admin/tasks/{id} (CONTRACT §5): every key's tasks for the admin — the
 * client's task object plus what only the operator may see: the key, the upstream cost (per task and
 * per attempt), what the upstream reported producing, and the ledger lines.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { renderTask, type AppDeps } from '../deps.ts';
import { ApiError } from '../../errors.ts';
import { microsToUsd } from '../../pricing/money.ts';
import { TASK_STATUSES, type AttemptRow, type TaskRow } from '../../db/schema/index.ts';
import { attemptCostMicros } from '../../db/repos/admin-tasks.ts';

const listQuery = z.object({
  key: z.string().min(1).max(64).optional(),
  status: z.enum(TASK_STATUSES).optional(),
  provider: z.string().min(1).max(100).optional(),
  model: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().min(1).max(64).optional(),
});

/** The admin task object: the client's task object plus operator-only fields. */
export async function adminTaskView(deps: AppDeps, task: TaskRow, attempts: readonly AttemptRow[], withLedger: boolean) {
  const base = renderTask(deps, task, attempts);
  return {
    ...base,
    key_id: task.keyId,
    upstream_cost_usd: microsToUsd(task.upstreamCostMicros),
    // What the upstream reported producing (uncapped); true when that was more than the key paid for.
    produced_units: task.producedUnits,
    underbilled: task.underbilled,
    list_priced: task.listPriced,
    attempts: base.attempts.map((a, i) => ({
      ...a,
      ...(attempts[i]!.errorMessage !== null ? { upstream_message: attempts[i]!.errorMessage } : {}),
      unit_cost_usd: microsToUsd(attempts[i]!.unitCostMicros),
      // What the provider may bill for this attempt (what reconciliation compares with its statement).
      upstream_cost_usd: microsToUsd(attemptCostMicros(task, attempts[i]!)),
    })),
    ...(withLedger
      ? {
          ledger: (await deps.ctx.store.adminTasks.ledger(task.id)).map((l) => ({
            id: l.id,
            kind: l.kind,
            amount_usd: microsToUsd(l.amountMicros),
            balance_delta_usd: microsToUsd(l.balanceDeltaMicros),
            note: l.note,
            created: Math.floor(l.createdAt / 1000),
          })),
        }
      : {}),
  };
}

export function adminTaskRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store } = deps.ctx;

  app.get('/admin/tasks', async (c) => {
    const q = listQuery.safeParse(c.req.query());
    if (!q.success) {
      const issue = q.error.issues[0]!;
      const param = String(issue.path[0]);
      throw new ApiError('invalid_parameter', `${param}: ${issue.message}`, { param });
    }
    const { key, status, provider, model, limit, after } = q.data;
    const rows = await store.adminTasks.list({ keyId: key, status, provider, model }, limit + 1, after);
    const page = rows.slice(0, limit);
    // Lists carry the ledger too: the dashboard and the CLI show cost per row without N more calls.
    const data = await Promise.all(page.map(async (t) => adminTaskView(deps, t, await store.tasks.attempts(t.id), true)));
    return c.json({ object: 'list', data, has_more: rows.length > limit });
  });

  app.get('/admin/tasks/:id', async (c) => {
    const id = c.req.param('id');
    const task = await store.tasks.get(id);
    if (!task) throw new ApiError('not_found', `no task ${id}`, { param: 'id' });
    return c.json(await adminTaskView(deps, task, await store.tasks.attempts(task.id), true));
  });
}
