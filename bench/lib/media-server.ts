/** Serves the reference MP4 the gateway probes: `/v/<seconds>.mp4` with Range support, and `/img.png`. */
import { Hono } from 'hono';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { rangeResponse } from '../../src/media/range-response.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';

export async function startMediaServer(): Promise<RunningServer & { requests: () => number }> {
  const app = new Hono();
  let requests = 0;
  const files = new Map<string, Buffer>();
  app.get('/v/:file', (c) => {
    requests++;
    const name = c.req.param('file');
    let bytes = files.get(name);
    if (!bytes) files.set(name, (bytes = syntheticMp4({ durationS: parseFloat(name) })));
    return rangeResponse(c.req.header('range'), bytes, { 'content-type': 'video/mp4' });
  });
  app.get('/img.png', (c) => {
    requests++;
    return c.body(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 200, { 'content-type': 'image/png' });
  });
  const server = await listen(app);
  return { ...server, requests: () => requests };
}
