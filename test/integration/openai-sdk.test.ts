/** The official OpenAI SDK as an independent client: base URL pointed at reelroute. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
let client: OpenAI;
let sdkKey: string;
beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } }] });
  sdkKey = (await gw.createKey({ name: 'sdk' })).key;
  client = new OpenAI({ apiKey: sdkKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

type Task = { id: string; status: string; usage: { reserved_usd: number }; results: string[] | null };

describe('OpenAI SDK', () => {
  it('creates, reads, lists and completes a task', async () => {
    const task = await client.post<Task>('/videos/generations', { body: gw.motion(6) });
    expect(task).toMatchObject({ status: 'pending', usage: { reserved_usd: 0.6 } });
    const got = await client.get<Task>(`/tasks/${task.id}`);
    expect(got.id).toBe(task.id);
    const list = await client.get<{ object: string; data: Task[] }>('/tasks', { query: { limit: 1 } });
    expect(list.data[0]!.id).toBe(task.id);
    const done = await gw.settle(task.id, sdkKey);
    expect(done.status).toBe('completed');
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('kling-v3-motion-control');
  });

  it('surfaces the error envelope as typed SDK errors', async () => {
    const err = await client.post('/videos/generations', { body: { ...gw.motion(), quality: '8k' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e).toMatchObject({ status: 400, code: 'invalid_parameter', param: 'quality', type: 'invalid_request_error' });
    expect(e.requestID).toMatch(/^req_/);
    const bad = new OpenAI({ apiKey: 'rr_wrong', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    await expect(bad.get('/tasks')).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.get('/tasks/task_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
