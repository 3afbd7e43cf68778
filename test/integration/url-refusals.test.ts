/**
 * URL refusals as a client sees them (issue 8 #10, issue 12 #6): an internal name, an unknown name
 * and a private literal all get the same generic words (no address, no DNS error code), while the
 * log keeps the detail; a too-long or unparsable URL is invalid_media_url / invalid_callback_url
 * naming the field, like every other refused URL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { parseConfig } from '../../src/config.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { createUrlGuard, type HostLookup } from '../../src/net/ssrf.ts';
import { createRuntime } from '../../src/runtime.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';

/** Internal DNS as an attacker would probe it: `vm` is loopback, `db.internal` private, `cdn.example` public. */
const lookup: HostLookup = async (host) => {
  const table: Record<string, string> = { vm: '127.0.0.1', 'db.internal': '10.1.2.3', 'cdn.example': '93.184.216.34' };
  const address = table[host];
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return [{ address, family: 4 }];
};

let dir: string;
let store: Store;
let server: RunningServer;
let key: string;
const logged: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-url-'));
  store = await openStore(join(dir, 'db.sqlite'));
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  const config = parseConfig({ providers: [{ id: 'fal-main', type: 'fal', base_url: 'http://127.0.0.1:9', api_key: 'k' }] });
  const runtime = await createRuntime({ config, store, adminKey: ADMIN_KEY, log, guard: createUrlGuard({ allowInsecure: false, lookup, log }) });
  server = await listen(runtime.app);
  const res = await fetch(`${server.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{"name":"t"}' });
  key = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function estimate(body: Record<string, unknown>) {
  const res = await fetch(`${server.url}/v1/videos/generations/estimate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, error: ((await res.json()) as { error: { code: string; param: string; message: string } }).error };
}

const motion = (over: Record<string, unknown> = {}) => ({
  model: 'kling-v3-motion-control',
  image_urls: ['https://cdn.example/a.png'],
  video_urls: ['https://cdn.example/a.mp4'],
  ...over,
});

describe('URL refusals do not map internal DNS', () => {
  it.each([
    ['an internal name', 'https://vm/x.mp4'],
    ['a private name', 'https://db.internal/x.mp4'],
    ['an unknown name', 'https://nope.invalid/x.mp4'],
  ])('%s gets the same generic reason; the log has the detail', async (_what, url) => {
    logged.length = 0;
    const { status, error } = await estimate(motion({ video_urls: [url] }));
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_media_url', param: 'video_urls[0]' });
    expect(error.message).toBe('video_urls[0]: URL refused: the host is not allowed or could not be resolved (it must be a public internet host)');
    expect(logged.join('\n')).toMatch(/127\.0\.0\.1 is loopback|10\.1\.2\.3 is private|ENOTFOUND/);
  });

  it('a callback URL to an internal name says no more', async () => {
    const { error } = await estimate(motion({ callback_url: 'https://vm/hook' }));
    expect(error).toMatchObject({ code: 'invalid_callback_url', param: 'callback_url' });
    expect(error.message).not.toMatch(/127|loopback|resolve[sd] to/);
  });
});

describe('too-long or unparsable URLs are refused URLs, naming the field', () => {
  const long = `https://cdn.example/${'a'.repeat(2050)}`;
  it.each([
    ['a too-long callback_url', motion({ callback_url: long }), 'invalid_callback_url', 'callback_url'],
    ['an unparsable callback_url', motion({ callback_url: 'not a url' }), 'invalid_callback_url', 'callback_url'],
    ['a too-long image URL', motion({ image_urls: [long] }), 'invalid_media_url', 'image_urls[0]'],
    ['an unparsable video URL', motion({ video_urls: ['dance.mp4'] }), 'invalid_media_url', 'video_urls[0]'],
    [
      'an unparsable element video URL',
      { model: 'kling-custom-element', model_params: { element_name: 'A', element_description: 'B', reference_type: 'video_refer', element_video_list: { video_url: '::' } } },
      'invalid_media_url',
      'model_params.element_video_list.video_url',
    ],
  ])('%s', async (_what, body, code, param) => {
    const { status, error } = await estimate(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code, param });
    expect(error.message.startsWith(`${param}: `)).toBe(true);
  });
});
