/**
 * The floor: a bare Hono + @hono/node-server pass-through proxy over a keep-alive undici Pool.
 * No auth, no parsing, no database — just "receive a POST, send it upstream, relay the answer".
 * Any Node gateway built on this stack cannot be faster than this.
 */
import { Hono } from 'hono';
import { Pool } from 'undici';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';

export async function startBareProxy(upstream: string): Promise<RunningServer> {
  const pool = new Pool(upstream, { connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, pipelining: 1 });
  const app = new Hono();
  app.post('/*', async (c) => {
    const body = await c.req.text();
    const res = await pool.request({
      method: 'POST',
      path: c.req.path,
      headers: { authorization: c.req.header('authorization') ?? '', 'content-type': c.req.header('content-type') ?? 'application/json' },
      body,
    });
    const out = await res.body.text();
    const type = res.headers['content-type'];
    return new Response(out, { status: res.statusCode, headers: { 'content-type': typeof type === 'string' ? type : 'application/json' } });
  });
  const server = await listen(app);
  return {
    ...server,
    close: async () => {
      await server.close();
      await pool.close();
    },
  };
}
