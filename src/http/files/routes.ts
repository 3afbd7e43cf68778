/**
 * Files API (CONTRACT §8): upload, list, read and delete a key's files under /v1/files, and the
 * key-less public URLs under /files.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { receiveUpload } from './upload.ts';
import { serveFile } from './serve.ts';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(64).optional(),
});

/** Register the files routes (the JSON body limit must not cover POST /v1/files: see app.ts). */
export function fileRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { files, config, now } = deps.ctx;

  /** A listed file of this key, or 404 (another key's file is indistinguishable from a missing one). */
  const ownFile = async (c: Context<AppEnv>) => {
    const id = c.req.param('id') ?? '';
    const row = await deps.ctx.store.files.get(id);
    if (!row || row.keyId !== c.get('apiKey').id || row.deletedAt !== null || row.purpose === 'input') {
      throw new ApiError('not_found', `no file ${id}`, { param: 'id' });
    }
    return row;
  };

  app.post('/v1/files', async (c) => {
    const row = await receiveUpload(c, files, config.files.max_bytes);
    return c.json(files.view(row));
  });

  app.get('/v1/files', async (c) => {
    const q = listQuery.safeParse(c.req.query());
    if (!q.success) {
      const param = String(q.error.issues[0]!.path[0]);
      throw new ApiError('invalid_parameter', `${param}: ${q.error.issues[0]!.message}`, { param });
    }
    const rows = await deps.ctx.store.files.listForKey(c.get('apiKey').id, q.data.limit + 1, q.data.after);
    const page = rows.slice(0, q.data.limit);
    return c.json({ object: 'list', data: page.map((r) => files.view(r)), has_more: rows.length > q.data.limit });
  });

  app.get('/v1/files/:id', async (c) => c.json(files.view(await ownFile(c))));

  app.delete('/v1/files/:id', async (c) => {
    const row = await ownFile(c);
    await files.delete(row);
    return c.json({ id: row.id, object: 'file', deleted: true });
  });

  app.get('/files/:name', (c) => serveFile(c, files, now));
}
