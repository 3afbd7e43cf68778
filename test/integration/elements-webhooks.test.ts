/** Element affinity end to end, and inbound upstream webhooks (real, forged, replayed). */
import { afterEach, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

const elementBody = (gw: Gateway) => ({
  model: 'kling-custom-element',
  model_params: {
    element_name: 'MyCharacter',
    element_description: 'A young male character with short hair',
    reference_type: 'video_refer',
    element_video_list: { video_url: `${gw.media.url}/v/5.mp4` },
  },
});

describe('elements', () => {
  it('an element made on A pins later motion tasks to A, even when B is cheaper, with A’s own id', async () => {
    gw = await startGateway({
      providers: [
        { id: 'evo-a', type: 'evolink' },
        { id: 'fal-b', type: 'fal', price: { '720p': 0.05, '1080p': 0.08 } },
      ],
    });
    const created = await gw.call('POST', '/v1/videos/generations', { body: elementBody(gw) });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({ provider: 'evo-a', usage: { billing_rule: 'per_request', billable_units: 1, reserved_usd: 0.0139 } });
    const done = await gw.settle(created.body.id);
    expect(done.status).toBe('completed');
    const elementId: string = done.result_data.element_id;
    expect(elementId).toMatch(/^el_/);
    expect(done.usage.charged_usd).toBe(0.0139);

    // Without the element the cheaper provider wins …
    expect((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) })).body.provider).toBe('fal-b');
    // … with it, the task goes to the element's owner, orientation forced to video, upstream id translated.
    const motion = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(12, { model_params: { element_list: [{ element_id: elementId }] } }) });
    expect(motion.status, JSON.stringify(motion.body)).toBe(200);
    expect(motion.body.provider).toBe('evo-a');
    const sent = gw.emulators['evo-a']!.state.lastCreateBody as { model_params: { character_orientation: string; element_list: { element_id: string }[] } };
    const upstreamElement = (await gw.store.elements.get(elementId))!.upstreamElementId;
    expect(sent.model_params.element_list[0]!.element_id).toBe(upstreamElement);
    expect(upstreamElement).not.toBe(elementId);
    expect(sent.model_params.character_orientation).toBe('video');

    // Another key cannot use it.
    const other = await gw.createKey({ name: 'other' });
    const foreign = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { model_params: { element_list: [{ element_id: elementId }] } }), key: other.key });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.code).toBe('unknown_element');
  });

  it('with the owner down, an element task does not fail over to another provider', async () => {
    gw = await startGateway({ providers: [{ id: 'evo-a', type: 'evolink' }, { id: 'fal-b', type: 'fal' }] });
    const done = await gw.settle((await gw.call('POST', '/v1/videos/generations', { body: elementBody(gw) })).body.id);
    gw.emulators['evo-a']!.state.submitFaults.push({ kind: 'status', status: 503 });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { model_params: { element_list: [{ element_id: done.result_data.element_id }] } }) });
    expect(res.status).toBe(503);
    expect(gw.emulators['fal-b']!.state.createsReceived).toBe(0);
  });
});

describe('inbound upstream webhooks', () => {
  async function withWebhooks() {
    gw = await startGateway({
      providers: [{ id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } }],
      // Outputs are not mirrored here: the delivery itself should complete the task.
      config: { server: { public_base_url: 'https://gw.example.com' }, files: { mirror_outputs: false, pin_inputs: false } },
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const task = [...gw.emulators['fal-main']!.state.tasks.values()][0]!;
    const registered = String(task.meta.webhookUrl);
    expect(registered).toMatch(/^https:\/\/gw\.example\.com\/webhooks\/fal-main\/[\w-]{20,}$/);
    const path = new URL(registered).pathname;
    const ok = { request_id: task.id, gateway_request_id: task.id, status: 'OK', payload: { video: { url: `${gw.emulators['fal-main']!.url}/__files/${task.id}.mp4` } } };
    return { taskId: res.body.id as string, path, ok };
  }

  it('a real delivery settles the task without waiting for a poll; a replay changes nothing', async () => {
    const { taskId, path, ok } = await withWebhooks();
    const first = await gw.call('POST', path, { body: ok, key: null });
    expect(first.body).toEqual({ received: true, applied: true });
    const task = (await gw.call('GET', `/v1/tasks/${taskId}`)).body;
    expect(task.status).toBe('completed');
    expect(gw.emulators['fal-main']!.state.polls).toBe(0);
    const replay = await gw.call('POST', path, { body: ok, key: null });
    expect(replay.body.applied).toBe(false);
    expect((await gw.store.ledger.totalsByTask([taskId])).get(taskId)!.charge).toBe(500_000);
  });

  it('forged deliveries are refused or ignored', async () => {
    const { taskId, path, ok } = await withWebhooks();
    expect((await gw.call('POST', path.replace(/[^/]+$/, 'not-the-token'), { body: ok, key: null })).status).toBe(404);
    expect((await gw.call('POST', path.replace('fal-main', 'other'), { body: ok, key: null })).status).toBe(404);
    const wrongTask = await gw.call('POST', path, { body: { ...ok, request_id: 'someone-else' }, key: null });
    expect(wrongTask.body.applied).toBe(false);
    const echoed = await gw.call('POST', path, { body: ok, key: null, headers: { 'x-webhook-secret': 'wrong' } });
    expect(echoed.status).toBe(401);
    expect((await gw.call('GET', `/v1/tasks/${taskId}`)).body.status).toBe('pending');
  });
});
