/**
 * Every emulator keeps its own bill the way its provider bills (PROVIDERS.md) and serves it at
 * `GET /__emulator/statement` (CONTRACT §9). Tasks go through the real adapter; the expected
 * amounts below are worked out by hand from PROVIDERS.md, never from the emulators' code.
 */
import { describe, expect, it } from 'vitest';
import type { Emulator, EmulatorOptions } from '../../providers/emulator-kit.ts';
import { formatMicros } from '../../providers/emulator-statement.ts';
import type { AdapterFactory } from '../../providers/types.ts';
import { evolinkFactory } from '../../providers/evolink/adapter.ts';
import { startEvolinkEmulator } from '../../providers/evolink/emulator.ts';
import { falFactory } from '../../providers/fal/adapter.ts';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import { kieFactory } from '../../providers/kie/adapter.ts';
import { startKieEmulator } from '../../providers/kie/emulator.ts';
import { klingFactory } from '../../providers/kling/adapter.ts';
import { startKlingEmulator } from '../../providers/kling/emulator.ts';
import { piapiFactory } from '../../providers/piapi/adapter.ts';
import { startPiapiEmulator } from '../../providers/piapi/emulator.ts';
import { replicateFactory } from '../../providers/replicate/adapter.ts';
import { startReplicateEmulator } from '../../providers/replicate/emulator.ts';
import { wavespeedFactory } from '../../providers/wavespeed/adapter.ts';
import { startWavespeedEmulator } from '../../providers/wavespeed/emulator.ts';
import { QUEUE_MS, RUN_MS, T0, elementRequest, motionRequest } from './harness.ts';

interface Billed {
  name: string;
  factory: AdapterFactory;
  start(opts: EmulatorOptions): Promise<Emulator>;
  credentials: Record<string, string>;
  cancel: boolean;
  column: 'amount_usd' | 'amount_credits';
  /** 7 s at 720p, 4 s at 1080p, one element: by hand from PROVIDERS.md. */
  expected: { motion720x7: string; motion1080x4: string; element?: string };
}

const PROVIDERS: Billed[] = [
  // 0.9 units/s × 7 = 6.3; 1.2 × 4 = 4.8; element placeholder 0.1 unit (unverified).
  { name: 'kling', factory: klingFactory, start: startKlingEmulator, cancel: false, column: 'amount_credits',
    credentials: { apiKey: 'k-api', accessKey: 'k-access', secretKey: 'k-secret-0123456789' },
    expected: { motion720x7: '6.3', motion1080x4: '4.8', element: '0.1' } },
  // $0.126 × 7 = 0.882; $0.168 × 4 = 0.672.
  { name: 'fal', factory: falFactory, start: startFalEmulator, cancel: true, column: 'amount_usd',
    credentials: { apiKey: 'fal-key' }, expected: { motion720x7: '0.882', motion1080x4: '0.672' } },
  // $0.07 × 7 = 0.49; $0.12 × 4 = 0.48.
  { name: 'replicate', factory: replicateFactory, start: startReplicateEmulator, cancel: true, column: 'amount_usd',
    credentials: { apiKey: 'r8_key' }, expected: { motion720x7: '0.49', motion1080x4: '0.48' } },
  // 11 credits × 7 = 77; 18 × 4 = 72.
  { name: 'kie', factory: kieFactory, start: startKieEmulator, cancel: false, column: 'amount_credits',
    credentials: { apiKey: 'kie-key' }, expected: { motion720x7: '77', motion1080x4: '72' } },
  // Placeholder (PROVIDERS.md has no PiAPI price): $0.10 × 7 = 0.7; $0.15 × 4 = 0.6.
  { name: 'piapi', factory: piapiFactory, start: startPiapiEmulator, cancel: false, column: 'amount_usd',
    credentials: { apiKey: 'piapi-key' }, expected: { motion720x7: '0.7', motion1080x4: '0.6' } },
  // $0.1134 × 7 = 0.7938 (a float sum would print 0.7938000000000001); $0.1512 × 4 = 0.6048; element $0.0139.
  { name: 'evolink', factory: evolinkFactory, start: startEvolinkEmulator, cancel: false, column: 'amount_usd',
    credentials: { apiKey: 'sk-evo' }, expected: { motion720x7: '0.7938', motion1080x4: '0.6048', element: '0.0139' } },
  // Motion placeholder $0.12 × 7 = 0.84; $0.16 × 4 = 0.64; element $0.01/run.
  { name: 'wavespeed', factory: wavespeedFactory, start: startWavespeedEmulator, cancel: false, column: 'amount_usd',
    credentials: { apiKey: 'ws-key' }, expected: { motion720x7: '0.84', motion1080x4: '0.64', element: '0.01' } },
];

/** A started emulator with a manual clock and an adapter pointed at it. */
async function setUp(p: Billed) {
  let now = T0;
  const clock = () => now;
  const emu = await p.start({ now: clock, queueMs: QUEUE_MS, runMs: RUN_MS, credentials: p.credentials, outputDurationS: 5 });
  const adapter = p.factory.create({ baseUrl: emu.url, ...p.credentials, now: clock, timeoutMs: 5_000 });
  return { emu, adapter, advance: (ms: number) => void (now += ms) };
}

async function statement(emu: Emulator, query = ''): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${emu.url}/__emulator/statement${query}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe.each(PROVIDERS)('$name emulator statement', (p) => {
  it('bills completed work only, exactly, the way the provider prices it', async () => {
    const { emu, adapter, advance } = await setUp(p);
    try {
      const ids: string[] = [];
      const create = async (req: Parameters<typeof adapter.create>[0]['request']) => {
        const { upstreamId } = await adapter.create({ request: req, attemptId: `att_${ids.length}` });
        ids.push(upstreamId);
        advance(1); // distinct creation times: the statement lists oldest first
        return upstreamId;
      };
      emu.state.fates.push({ outcome: 'complete', durationS: 7 }, { outcome: 'complete', durationS: 4 });
      emu.state.fates.push({ outcome: 'fail', providerSide: true }, { outcome: 'fail', providerSide: false });
      const m720 = await create(motionRequest('720p'));
      const m1080 = await create(motionRequest('1080p'));
      await create(motionRequest('720p')); // fails provider-side: no output, not billed
      await create(motionRequest('1080p')); // fails input-side: not billed
      let element: string | undefined;
      if (p.expected.element) {
        emu.state.fates.push({ outcome: 'complete' }, { outcome: 'fail', providerSide: true });
        element = await create(elementRequest);
        await create(elementRequest); // a failed element is not billed (EvoLink: refunded in full)
      }
      if (p.cancel) {
        const cancelled = await create(motionRequest('720p'));
        advance(QUEUE_MS);
        await adapter.cancel!({ upstreamId: cancelled, model: 'kling-v3-motion-control', quality: '720p' });
      }
      advance(RUN_MS);
      await create(motionRequest('720p')); // still running: not billed yet
      const lines = [`upstream_id,${p.column}`, `${m720},${p.expected.motion720x7}`, `${m1080},${p.expected.motion1080x4}`];
      if (element) lines.push(`${element},${p.expected.element}`);
      const res = await statement(emu);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/csv/);
      expect(res.text).toBe(`${lines.join('\r\n')}\r\n`);
    } finally {
      await emu.close();
    }
  });
});

describe('statement date range and amounts (emulator kit)', () => {
  const fal = PROVIDERS.find((p) => p.name === 'fal')!;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

  it('selects tasks by their UTC creation day, from and to inclusive, and refuses bad dates', async () => {
    const { emu, adapter, advance } = await setUp(fal);
    try {
      const first = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
      advance(86_400_000);
      const second = await adapter.create({ request: motionRequest('720p'), attemptId: 'b' });
      advance(RUN_MS);
      const d1 = day(T0);
      const d2 = day(T0 + 86_400_000);
      expect((await statement(emu, `?from=${d1}&to=${d1}`)).text).toBe(`upstream_id,amount_usd\r\n${first.upstreamId},0.63\r\n`);
      expect((await statement(emu, `?from=${d2}`)).text).toBe(`upstream_id,amount_usd\r\n${second.upstreamId},0.63\r\n`);
      expect((await statement(emu, `?to=${d2}`)).text.split('\r\n')).toHaveLength(4);
      for (const q of ['?from=2023-02-30', '?to=yesterday', `?from=${d2}&to=${d1}`]) expect((await statement(emu, q)).status).toBe(400);
    } finally {
      await emu.close();
    }
  });

  it('bills a fractional output duration to the millisecond, as a plain decimal', async () => {
    const { emu, adapter, advance } = await setUp(fal);
    try {
      emu.state.fates.push({ outcome: 'complete', durationS: 5.5 });
      const { upstreamId } = await adapter.create({ request: motionRequest('1080p'), attemptId: 'a' });
      advance(RUN_MS);
      expect((await statement(emu)).text).toBe(`upstream_id,amount_usd\r\n${upstreamId},0.924\r\n`); // 5.5 × $0.168
    } finally {
      await emu.close();
    }
  });

  it('formats integer micro-units without float artifacts or exponents', () => {
    expect(formatMicros(0)).toBe('0');
    expect(formatMicros(1)).toBe('0.000001');
    expect(formatMicros(793_800)).toBe('0.7938');
    expect(formatMicros(77_000_000)).toBe('77');
    expect(formatMicros(123_456_789_012)).toBe('123456.789012');
    expect(() => formatMicros(0.5)).toThrow(RangeError);
  });
});
