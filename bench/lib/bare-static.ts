/**
 * The floor for reads: a bare Hono + @hono/node-server app answering `GET /v1/tasks/:id` with a
 * fixed task object of the real shape and size — no auth, no database. No Node server on this
 * stack can serve the status route faster than this on the same machine.
 */
import { Hono } from 'hono';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';

export async function startBareStatic(): Promise<RunningServer> {
  const app = new Hono();
  app.get('/v1/tasks/:id', (c) =>
    c.json({
      id: c.req.param('id'),
      object: 'video.generation.task',
      model: 'kling-v3-motion-control',
      status: 'completed',
      progress: 100,
      created: 1795567306,
      updated: 1795567306,
      provider: 'fal-bench',
      task_info: { can_cancel: false, estimated_time: 300 },
      usage: { billing_rule: 'per_second', billable_units: 5, unit_price_usd: 0.126, reserved_usd: 0.63, charged_usd: 0.63, refunded_usd: 0 },
      results: ['http://127.0.0.1:1/__files/done-500.mp4'],
      result_data: null,
      error: null,
      attempts: [{ provider: 'fal-bench', status: 'completed', upstream_id: 'done-500' }],
    }),
  );
  return listen(app);
}
