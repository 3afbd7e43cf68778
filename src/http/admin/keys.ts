/** Admin API for keys (CONTRACT §5): create, list, patch, revoke, credit. */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { readJson } from '../middleware.ts';
import { audit } from './audit.ts';
import { ApiError, paramFromPath } from '../../errors.ts';
import { createKeyIn, keyView } from '../../keys/keys.ts';
import { credit } from '../../ledger/ledger.ts';
import { usdToMicros } from '../../pricing/money.ts';
import { checkProviderIds, routeSchema } from '../../routing/preferences.ts';

const money = z.number().finite().nonnegative().max(1e9);
/** Stored text: no NUL (PostgreSQL text cannot hold one; refused alike on both engines). */
const text = (max: number) => z.string().max(max).refine((v) => !v.includes('\0'), 'must not contain NUL');

export const keyCreateBody = z.strictObject({
  name: text(100).pipe(z.string().min(1)),
  balance_usd: money.optional(),
  daily_budget_usd: money.optional(),
  monthly_budget_usd: money.optional(),
});
export const keyPatchBody = z.strictObject({
  name: text(100).pipe(z.string().min(1)).optional(),
  daily_budget_usd: money.nullable().optional(),
  monthly_budget_usd: money.nullable().optional(),
  /** The key's default routing preferences (CONTRACT §7); null clears them. */
  route: routeSchema.nullable().optional(),
});
export const keyCreditBody = z.strictObject({ amount_usd: money.positive(), note: text(500).optional() });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.code === 'unrecognized_keys' ? issue.keys[0]! : paramFromPath(issue.path);
  throw new ApiError(issue.code === 'unrecognized_keys' ? 'unknown_field' : 'invalid_parameter', `${param ?? 'body'}: ${issue.message}`, { param });
}

const optMicros = (usd: number | null | undefined) => (usd === undefined ? undefined : usd === null ? null : usdToMicros(usd));

export function adminKeyRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, now } = deps.ctx;
  const existing = async (c: Context<AppEnv>) => {
    const row = await store.keys.byId(c.req.param('id')!);
    if (!row) throw new ApiError('not_found', `no key ${c.req.param('id')}`, { param: 'id' });
    return row;
  };

  app.post('/admin/keys', async (c) => {
    const body = parse(keyCreateBody, await readJson(c));
    // The key and its audit row (never the secret or its hash) in one transaction.
    const { row, key } = await store.transaction(async (tx) => {
      const created = await createKeyIn(
        tx,
        {
          name: body.name,
          balanceMicros: optMicros(body.balance_usd) ?? null,
          dailyBudgetMicros: optMicros(body.daily_budget_usd) ?? null,
          monthlyBudgetMicros: optMicros(body.monthly_budget_usd) ?? null,
        },
        now(),
      );
      await audit(deps, tx, c, 'key.create', created.row.id, null, keyView(created.row));
      return created;
    });
    return c.json({ ...keyView(row), key, webhook_secret: row.webhookSecret });
  });

  app.get('/admin/keys', async (c) => c.json({ object: 'list', data: (await store.keys.list()).map(keyView) }));

  app.patch('/admin/keys/:id', async (c) => {
    const row = await existing(c);
    const body = parse(keyPatchBody, await readJson(c));
    const daily = optMicros(body.daily_budget_usd);
    const monthly = optMicros(body.monthly_budget_usd);
    if (body.route) checkProviderIds(body.route, deps.ctx.providers);
    await store.transaction(async (tx) => {
      await tx.keys.patch(row.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(daily !== undefined ? { dailyBudgetMicros: daily } : {}),
        ...(monthly !== undefined ? { monthlyBudgetMicros: monthly } : {}),
        ...(body.route !== undefined ? { route: body.route === null ? null : JSON.stringify(body.route) } : {}),
      });
      await audit(deps, tx, c, 'key.update', row.id, keyView(row), keyView((await tx.keys.byId(row.id))!));
    });
    deps.auth.invalidate();
    return c.json(keyView((await store.keys.byId(row.id))!));
  });

  app.delete('/admin/keys/:id', async (c) => {
    const row = await existing(c);
    if (row.revokedAt === null) {
      await store.transaction(async (tx) => {
        await tx.keys.patch(row.id, { revokedAt: now() });
        await audit(deps, tx, c, 'key.revoke', row.id, keyView(row), keyView((await tx.keys.byId(row.id))!));
      });
    }
    deps.auth.invalidate();
    return c.json(keyView((await store.keys.byId(row.id))!));
  });

  app.post('/admin/keys/:id/credit', async (c) => {
    const row = await existing(c);
    const body = parse(keyCreditBody, await readJson(c));
    if (row.balanceMicros === null) {
      throw new ApiError('invalid_parameter', 'this key is post-paid (created without balance_usd); it has no balance to credit', { param: 'id' });
    }
    await store.transaction(async (tx) => {
      await credit(tx, row.id, usdToMicros(body.amount_usd), body.note ?? null, now());
      await audit(deps, tx, c, 'key.credit', row.id, keyView(row), { ...keyView((await tx.keys.byId(row.id))!), amount_usd: body.amount_usd, note: body.note ?? null });
    });
    return c.json(keyView((await store.keys.byId(row.id))!));
  });
}
