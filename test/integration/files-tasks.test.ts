/**
 * Files in tasks over real HTTP (CONTRACT §8): uploads quoted from disk, mirrored outputs that
 * outlive the upstream's copy, `mirror_outputs: false`, a mirror that gives up, the element rule.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway, type TestProvider } from '../helpers/gateway.ts';
import { TERMINAL } from '../../src/tasks/context.ts';
import { MP4, PNG } from './files-fixtures.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

async function gateway(files: Record<string, unknown> = {}, providers: TestProvider[] = [{ id: 'fal-1', type: 'fal', price: PRICE }]): Promise<Gateway> {
  gw = await startGateway({ providers, config: { files } });
  gw.runtime.files.files.useLoopbackBase(gw.url);
  return gw;
}

async function upload(bytes: Buffer): Promise<any> {
  const key = (gw as Gateway & { _key?: string })._key ?? (await gw.createKey({ name: 'files' })).key;
  (gw as Gateway & { _key?: string })._key = key;
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), 'f');
  const res = await fetch(`${gw.url}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Like gw.settle, but also runs the output mirror's queue. */
async function settle(taskId: string): Promise<any> {
  for (let i = 0; i < 60; i++) {
    const res = await gw.call('GET', `/v1/tasks/${taskId}`);
    if (TERMINAL.has(res.body.status)) return res.body;
    gw.advance(1_000);
    await gw.runtime.poller.runDue();
    await gw.runtime.files.mirror.runDue();
  }
  throw new Error(`task ${taskId} did not end`);
}

describe('files in tasks', () => {
  it('quotes a task on uploaded media by the clip real duration, read from disk (no HTTP)', async () => {
    await gateway({ mirror_outputs: false });
    const image = await upload(PNG);
    const video = await upload(MP4(7.4));
    const before = gw.media.requests;
    const body = { model: 'kling-v3-motion-control', image_urls: [image.url], video_urls: [video.url] };
    const est = await gw.call('POST', '/v1/videos/generations/estimate', { body });
    expect(est.status, JSON.stringify(est.body)).toBe(200);
    expect(est.body.billable_units).toBe(7);
    const task = await gw.call('POST', '/v1/videos/generations', { body });
    expect(task.status).toBe(200);
    expect(task.body.usage.billable_units).toBe(7);
    expect(gw.media.requests).toBe(before);
    // The upstream was handed the gateway's own URLs.
    const sent = JSON.stringify(gw.emulators['fal-1']!.state.lastCreateBody);
    expect(sent).toContain(video.url);
    // A deleted upload is refused before anything is held.
    await gw.call('DELETE', `/v1/files/${video.id}`, { key: (gw as Gateway & { _key?: string })._key! });
    const gone = await gw.call('POST', '/v1/videos/generations', { body });
    expect(gone.status).toBe(400);
    expect(gone.body.error).toMatchObject({ code: 'invalid_media_url', param: 'video_urls[0]' });
  });

  it('mirrors outputs before completing: gateway URLs that still serve after the upstream copy is gone', async () => {
    await gateway();
    gw.emulators['fal-1']!.state.outputDurationS = 5;
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6) });
    expect(created.status).toBe(200);
    const done = await settle(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.results).toHaveLength(1);
    expect(done.results[0]).toMatch(new RegExp(`^${gw.url}/files/`));
    const [file] = done.result_files;
    expect(file).toMatchObject({ url: done.results[0], duration_s: 5 });
    expect(file.upstream_url).toMatch(/\/__files\//);
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Charged what the local copy says was produced (5 s of a 6 s hold).
    expect(done.usage.charged_usd).toBe(0.5);
    // The upstream forgets its output; ours still serves.
    gw.emulators['fal-1']!.state.tasks.clear();
    expect((await fetch(file.upstream_url)).status).toBe(404);
    const served = await fetch(file.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('video/mp4');
    expect(Number(served.headers.get('content-length'))).toBe(file.bytes);
    await served.arrayBuffer();
    // The output is a file of the task's key.
    const listed = await gw.call('GET', '/v1/files');
    expect(listed.body.data.find((f: { id: string }) => f.id === file.id)).toMatchObject({ purpose: 'output', task_id: done.id });
  });

  it('keeps the upstream URLs with mirror_outputs: false', async () => {
    await gateway({ mirror_outputs: false });
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const done = await settle(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.results[0]).toMatch(/\/__files\//);
    expect(done.result_files).toBeUndefined();
  });

  it('completes with the upstream URLs when the mirror gives up, charging the same', async () => {
    await gateway({ max_output_bytes: 1_000 });
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const done = await settle(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.results[0]).toMatch(/\/__files\//);
    expect(done.result_files).toBeUndefined();
    expect(done.usage.charged_usd).toBe(0.5);
    expect(gw.runtime.files.mirror.gaveUp).toBe(1);
    const metrics = await gw.runtime.ctx.metrics.registry.getSingleMetricAsString('reelroute_output_mirrors_total');
    expect(metrics).toContain('reelroute_output_mirrors_total{outcome="failed"} 1');
  });

  it('resumes a mirror left by a restart: the job is in SQLite, the task waits for it', async () => {
    await gateway();
    // The mirror never runs here (as if the process died right after the upstream completed).
    await gw.runtime.files.mirror.stop();
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    for (let i = 0; i < 20 && !(await gw.store.files.job(created.body.id)); i++) {
      gw.advance(1_000);
      await gw.runtime.poller.runDue();
    }
    const job = await gw.store.files.job(created.body.id);
    expect(job).toMatchObject({ outcome: null, doneAt: null });
    expect((await gw.call('GET', `/v1/tasks/${created.body.id}`)).body.status).not.toBe('completed');
    // A fresh mirror over the same database (what a restart builds) finishes it.
    const { OutputMirror } = await import('../../src/files/mirror.ts');
    const fresh = new OutputMirror(gw.runtime.ctx, (t, a, s) => gw.runtime.poller.complete(t, a, s));
    gw.runtime.ctx.mirror = fresh;
    await fresh.runDue();
    const done = (await gw.call('GET', `/v1/tasks/${created.body.id}`)).body;
    expect(done.status).toBe('completed');
    expect(done.result_files).toHaveLength(1);
  });

  it('pins quoted reference media: the upstream gets the gateway copy of the bytes that were priced', async () => {
    await gateway({ mirror_outputs: false });
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(7.2) });
    expect(created.status).toBe(200);
    expect(created.body.usage.billable_units).toBe(7);
    const sent = gw.emulators['fal-1']!.state.lastCreateBody as { video_url?: string };
    expect(sent.video_url).toMatch(new RegExp(`^${gw.url}/files/`));
    const copy = await fetch(sent.video_url!);
    expect(Buffer.from(await copy.arrayBuffer()).equals(MP4(7.2))).toBe(true);
    // Pinned copies are the gateway's own: not listed among the key's files.
    expect((await gw.call('GET', '/v1/files')).body.data).toEqual([]);
    // The same URL again within the cache window reuses the copy instead of downloading again.
    const requests = gw.media.requests;
    const again = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(7.2) });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((gw.emulators['fal-1']!.state.lastCreateBody as { video_url?: string }).video_url).toBe(sent.video_url);
    expect(gw.media.requests - requests).toBe(1); // only the image, which is no PNG the store takes
    // Turned off, the upstream fetches the original URL.
    gw.runtime.ctx.config.files.pin_inputs = false;
    await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect((gw.emulators['fal-1']!.state.lastCreateBody as { video_url?: string }).video_url).toBe(`${gw.media.url}/v/5.mp4`);
  });

  it('a key that cannot pay is refused before its media are fetched or pinned', async () => {
    await gateway({ mirror_outputs: false });
    const broke = await gw.createKey({ name: 'broke', balance_usd: 0 });
    const spent = await gw.createKey({ name: 'spent', daily_budget_usd: 0 });
    const requests = gw.media.requests;
    for (const key of [broke.key, spent.key]) {
      const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key });
      expect(res.status).toBe(402);
    }
    // Nothing was fetched, so nothing was pinned: the store holds no bytes at all.
    expect(gw.media.requests).toBe(requests);
    expect((await gw.store.files.liveHashes()).size).toBe(0);
  });

  it('refuses element videos over 8 s or outside 720–2160 px on the shorter side, before any money moves', async () => {
    await gateway({}, [{ id: 'evo-1', type: 'evolink' }]);
    const element = (url: string) => ({ model: 'kling-custom-element', model_params: { element_name: 'Me', element_description: 'a face', reference_type: 'video_refer', element_video_list: { video_url: url } } });
    const long = await upload(MP4(9));
    const small = await upload(MP4(5, { width: 640, height: 480 }));
    const huge = await upload(MP4(5, { width: 4096, height: 2304 }));
    const ok = await upload(MP4(5, { width: 720, height: 1280 }));
    const key = (gw as Gateway & { _key?: string })._key!;
    const tooLong = await gw.call('POST', '/v1/videos/generations', { body: element(long.url), key });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ code: 'invalid_element_video', param: 'model_params.element_video_list.video_url' });
    expect(tooLong.body.error.message).toContain('duration');
    for (const f of [small, huge]) {
      const res = await gw.call('POST', '/v1/videos/generations', { body: element(f.url), key });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_element_video');
      expect(res.body.error.message).toContain('resolution');
    }
    expect((await gw.store.tasks.all())).toHaveLength(0);
    // Portrait 720×1280: the shorter side is 720, inside the rule.
    const accepted = await gw.call('POST', '/v1/videos/generations', { body: element(ok.url), key });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  });
});
