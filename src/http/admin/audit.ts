/** The audit log (CONTRACT §5): every admin change, before and after. GET /admin/audit lists it. */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../../errors.ts';
import type { AuditRow } from '../../db/schema/index.ts';
import type { Repos } from '../../db/store.ts';

/**
 * Record an admin change on the `tx` of the transaction that makes it. Other replicas watch the
 * audit log to learn of changes (src/replicas.ts).
 */
export function audit(deps: AppDeps, tx: Repos, c: Context<AppEnv>, action: string, target: string, before: unknown, after: unknown): Promise<void> {
  return tx.admin.insertAudit({
    at: deps.ctx.now(),
    action,
    target,
    before: before == null ? null : JSON.stringify(before),
    after: after == null ? null : JSON.stringify(after),
    requestId: c.get('requestId') ?? null,
  });
}

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.coerce.number().int().positive().optional(),
});

function auditView(row: AuditRow) {
  return {
    id: row.id,
    object: 'audit_entry',
    at: Math.floor(row.at / 1000),
    action: row.action,
    target: row.target,
    before: row.before === null ? null : (JSON.parse(row.before) as unknown),
    after: row.after === null ? null : (JSON.parse(row.after) as unknown),
    request_id: row.requestId,
  };
}

export function adminAuditRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.get('/admin/audit', async (c) => {
    const q = listQuery.safeParse(c.req.query());
    if (!q.success) {
      const issue = q.error.issues[0]!;
      throw new ApiError('invalid_parameter', `${String(issue.path[0])}: ${issue.message}`, { param: String(issue.path[0]) });
    }
    const rows = await deps.ctx.store.admin.listAudit(q.data.limit + 1, q.data.after);
    return c.json({ object: 'list', data: rows.slice(0, q.data.limit).map(auditView), has_more: rows.length > q.data.limit });
  });
}
