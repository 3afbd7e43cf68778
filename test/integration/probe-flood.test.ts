/**
 * A probe flood is bounded (issue 8 #9): against a media server that stalls mid-header, probes run
 * at most `maxConcurrent` at once (a short queue behind them, the rest turned away at once), at most
 * `perKey` for one key, and within a byte budget; through the gateway, a key's flood of estimates
 * gets 429s with Retry-After instead of piling up reads, and create/estimate have a per-key rate
 * limit on by default. (Memory itself is measured in bench/probe-flood.ts.)
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { createMediaProbe, withProbeKey, type ProbeResult } from '../../src/media/probe.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';
import { startGateway, type Gateway } from '../helpers/gateway.ts';

/** Serves a 5 s MP4 per path, but holds every answer after its first bytes until released. */
async function stallingServer() {
  const clip = syntheticMp4({ durationS: 5 });
  const held: ServerResponse[] = [];
  const paths: string[] = [];
  let open = 0;
  let peak = 0;
  let released = false;
  const server: Server = createServer((req, res) => {
    open++;
    paths.push(req.url!);
    peak = Math.max(peak, open);
    res.on('close', () => void open--);
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = Math.min(m ? Number(m[2]) : clip.length - 1, clip.length - 1);
    res.writeHead(206, { 'content-type': 'video/mp4', 'content-range': `bytes ${start}-${end}/${clip.length}`, 'content-length': end - start + 1 });
    if (released) return void res.end(clip.subarray(start, end + 1));
    res.write(clip.subarray(start, start + 8));
    held.push(Object.assign(res, { rest: clip.subarray(start + 8, end + 1) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get open() {
      return open;
    },
    get peak() {
      return peak;
    },
    paths,
    /** Finish every held answer; from now on answer at once. */
    release() {
      released = true;
      for (const res of held.splice(0)) res.end((res as ServerResponse & { rest: Buffer }).rest);
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

let media: Awaited<ReturnType<typeof stallingServer>> | undefined;
let gw: Gateway | undefined;
afterEach(async () => {
  media?.release();
  await media?.close();
  await gw?.close();
  media = undefined;
  gw = undefined;
});

describe('probe bounds', () => {
  it('at most maxConcurrent run, maxQueued wait, the rest are busy at once; the queue then runs', async () => {
    media = await stallingServer();
    const probe = createMediaProbe({ limits: { maxConcurrent: 2, maxQueued: 3, maxBytesInFlight: 64 * 1024 * 1024, perKey: 100 } });
    const results: (ProbeResult | undefined)[] = Array(10).fill(undefined);
    const all = Array.from({ length: 10 }, (_, i) => withProbeKey('key_a', () => probe.duration(`${media!.url}/clip-${i}.mp4`)).then((r) => (results[i] = r)));
    await until(() => results.filter(Boolean).length >= 5 && media!.open >= 2);
    expect(media.open).toBe(2);
    const busy = results.filter((r) => r && !r.ok && r.busy);
    expect(busy).toHaveLength(5);
    media.release();
    await Promise.all(all);
    expect(media.peak).toBe(2);
    expect(results.filter((r) => r?.ok)).toHaveLength(5);
    expect(results.find((r) => r?.ok)).toEqual({ ok: true, durationS: 5 });
  });

  it('one key gets at most perKey probes; another key is not held up by it', async () => {
    media = await stallingServer();
    const probe = createMediaProbe({ limits: { maxConcurrent: 16, maxQueued: 16, maxBytesInFlight: 64 * 1024 * 1024, perKey: 2 } });
    const mine = [0, 1, 2].map((i) => withProbeKey('key_a', () => probe.duration(`${media!.url}/a-${i}.mp4`)));
    const third = await mine[2]!;
    expect(third).toMatchObject({ ok: false, busy: true, reason: expect.stringContaining('for this key') });
    const other = withProbeKey('key_b', () => probe.duration(`${media!.url}/b.mp4`));
    await until(() => media!.open >= 3);
    expect(media.open).toBe(3);
    media.release();
    expect((await Promise.all([mine[0], mine[1], other])).every((r) => r!.ok)).toBe(true);
  });

  it("the gateway's own probes (no key) go ahead of clients' and are not refused for a full queue", async () => {
    media = await stallingServer();
    const probe = createMediaProbe({ limits: { maxConcurrent: 1, maxQueued: 1, maxBytesInFlight: 64 * 1024 * 1024, perKey: 10 } });
    const a = withProbeKey('key_a', () => probe.duration(`${media!.url}/a.mp4`));
    await until(() => media!.open >= 1);
    const b = withProbeKey('key_a', () => probe.duration(`${media!.url}/b.mp4`));
    expect(await withProbeKey('key_a', () => probe.duration(`${media!.url}/c.mp4`))).toMatchObject({ ok: false, busy: true });
    const output = probe.duration(`${media.url}/output.mp4`);
    media.release();
    expect((await Promise.all([a, b, output])).every((r) => r.ok)).toBe(true);
    expect(media.paths).toEqual(['/a.mp4', '/output.mp4', '/b.mp4']);
  });

  it('bytes in flight are bounded: a probe waits for the budget even with slots free', async () => {
    media = await stallingServer();
    // Each first read reserves 64 KiB; a 100 KiB budget lets only one hold its read at a time.
    const probe = createMediaProbe({ limits: { maxConcurrent: 8, maxQueued: 8, maxBytesInFlight: 100 * 1024, perKey: 8 } });
    const all = [0, 1, 2].map((i) => probe.duration(`${media!.url}/big-${i}.mp4`));
    await until(() => media!.open >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(media.open).toBe(1);
    media.release();
    expect((await Promise.all(all)).every((r) => r.ok)).toBe(true);
    expect(media.peak).toBe(1);
  });
});

describe('through the gateway', () => {
  it('a key flooding estimates gets 429 + Retry-After past its probe bound; reads stay bounded', async () => {
    media = await stallingServer();
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal' }], config: { media: { probe_per_key: 3 } } });
    const body = (i: number) => ({ ...gw!.motion(5), video_urls: [`${media!.url}/flood-${i}.mp4`] });
    let answered = 0;
    const calls = Array.from({ length: 12 }, (_, i) => gw!.call('POST', '/v1/videos/generations/estimate', { body: body(i) }).finally(() => answered++));
    // Every request is either turned away or stalled on the media server before any read finishes.
    await until(() => answered + media!.open >= 12);
    media.release();
    const answers = await Promise.all(calls);
    expect(media.peak).toBe(3);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(9);
    expect(limited[0]!.body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(limited[0]!.headers.get('retry-after')).toBe('1');
  });

  it('create and estimate share a per-key rate limit, on by default', async () => {
    expect(parseConfig({}).server.rate_limit).toMatchObject({ rps: 0, create_rps: 10, create_burst: 100 });
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal' }], config: { server: { rate_limit: { create_burst: 3 } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5) })).status);
    const over = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(statuses).toEqual([200, 200, 200]);
    expect(over.status).toBe(429);
    expect(over.body.error.message).toContain('creates and estimates');
    // Reads are not counted; a tenth of a second later (10/s) there is a token again.
    expect((await gw.call('GET', '/v1/tasks')).status).toBe(200);
    gw.advance(100);
    expect((await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5) })).status).toBe(200);
  });
});
