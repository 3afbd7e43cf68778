/** PATCH /admin/providers/{id} refuses a price whose rule does not fit the model (issue 8 #6). */
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
afterEach(async () => gw.close());

describe('PATCH /admin/providers/{id} price rules', () => {
  it('a per_request price on a per-second model and the reverse are 400 naming the field; nothing changes', async () => {
    gw = await startGateway({ providers: [{ id: 'wav-main', type: 'wavespeed', price: { '720p': 0.1, '1080p': 0.2 } }] });
    const before = (await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body;
    const cases = [
      ['kling-v3-motion-control', { per_request: 0.5 }, 'per_second'],
      ['kling-custom-element', { per_second: { '720p': 0.1, '1080p': 0.1 } }, 'per_request'],
    ] as const;
    for (const [model, price, rule] of cases) {
      const res = await gw.call('PATCH', '/admin/providers/wav-main', { body: { models: { [model]: { price } } }, key: ADMIN_KEY });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param: `models.${model}.price` });
      expect(res.body.error.message).toContain(`is billed ${rule}`);
    }
    expect((await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body).toEqual(before);
    const audit = (await gw.call('GET', '/admin/audit', { key: ADMIN_KEY })).body.data as { action: string }[];
    expect(audit.filter((a) => a.action.startsWith('provider'))).toEqual([]);
    // A fitting price still goes through.
    const ok = await gw.call('PATCH', '/admin/providers/wav-main', { body: { models: { 'kling-custom-element': { price: { per_request: 0.02 } } } }, key: ADMIN_KEY });
    expect(ok.status).toBe(200);
  });
});
