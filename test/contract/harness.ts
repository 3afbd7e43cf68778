/**
 * One contract suite for every adapter+emulator pair. It depends only on the adapter interface
 * (providers/types.ts) and the emulator kit's semantics (clock, fates, submit faults, counters), so
 * a new provider plugs in with a {@link ContractTarget} and its own file calling
 * {@link runContractSuite}. Time is a manual clock: tests advance it instead of sleeping.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { listen, type Emulator, type EmulatorOptions, type RunningServer } from '../../providers/emulator-kit.ts';
import { ProviderError, QUALITIES } from '../../providers/types.ts';
import type { AdapterFactory, AdapterOptions, ElementRequest, MotionRequest, ProviderAdapter, ProviderErrorKind, Quality, TaskRef } from '../../providers/types.ts';

/** An adapter, its emulator, and what the pair is expected to support. */
export interface ContractTarget {
  /** Provider type, e.g. `fal`. */
  name: string;
  factory: AdapterFactory;
  start(opts: EmulatorOptions): Promise<Emulator>;
  credentials: { apiKey?: string; accessKey?: string; secretKey?: string };
  /** Checks the emulator saw the credentials sent the provider's way. */
  assertAuth(headers: Record<string, string>): void;
  /**
   * `inputFailures` (default true): the provider marks input-side task failures with a structured
   * signal. When false (e.g. Replicate's free-text `error`), every task failure reads provider-side.
   */
  supports: { cancel: boolean; elements: boolean; lookup: boolean; inputFailures?: boolean };
}

/** Emulator clock start, and when emulated tasks start running and end. */
export const T0 = 1_700_000_000_000;
export const QUEUE_MS = 1_000;
export const RUN_MS = 3_000;

/** A valid motion-control request. */
export function motionRequest(quality: Quality, extra: Partial<MotionRequest> = {}): MotionRequest {
  const media = { imageUrl: 'https://media.example.com/character.png', videoUrl: 'https://media.example.com/dance.mp4' };
  return { model: 'kling-v3-motion-control', ...media, quality, prompt: 'dance in the rain', orientation: 'image', keepOriginalSound: true, ...extra };
}

/** A valid custom-element request. */
export const elementRequest: ElementRequest = {
  model: 'kling-custom-element', name: 'MyCharacter', description: 'A young male character with short hair',
  referenceType: 'video_refer', videoUrl: 'https://media.example.com/face.mp4',
};

/** Await `p`, expect it to reject with a ProviderError of `kind`, and return that error. */
export async function expectProviderError(p: Promise<unknown>, kind: ProviderErrorKind): Promise<ProviderError> {
  const caught = await p.then(() => undefined, (err: unknown) => err);
  expect(caught, `expected a ProviderError(${kind})`).toBeInstanceOf(ProviderError);
  expect((caught as ProviderError).kind, (caught as Error).message).toBe(kind);
  return caught as ProviderError;
}

/** Per-test fixture: a fresh emulator on 127.0.0.1:0, an adapter pointed at it, a manual clock. */
export interface ContractContext {
  emu: Emulator;
  adapter: ProviderAdapter;
  /** Move the shared clock forward. */
  advance(ms: number): void;
  /** Another adapter on the same emulator with some options changed. */
  adapterWith(opts: Partial<AdapterOptions>): ProviderAdapter;
  ref(upstreamId: string, quality?: Quality): TaskRef;
}

/** Register beforeEach/afterEach hooks and return a getter for the current test's context. */
export function useContract(t: ContractTarget): () => ContractContext {
  let current: ContractContext | undefined;
  beforeEach(async () => {
    let now = T0;
    const clock = (): number => now;
    const emu = await t.start({ now: clock, queueMs: QUEUE_MS, runMs: RUN_MS, credentials: t.credentials, outputDurationS: 5 });
    // A generous but finite timeout so a stuck call fails the test instead of hanging it.
    const base: AdapterOptions = { baseUrl: emu.url, ...t.credentials, now: clock, timeoutMs: 5_000 };
    current = {
      emu,
      adapter: t.factory.create(base),
      advance: (ms) => void (now += ms),
      adapterWith: (opts) => t.factory.create({ ...base, ...opts }),
      ref: (upstreamId, quality = '720p') => ({ upstreamId, model: 'kling-v3-motion-control', quality }),
    };
  });
  afterEach(async () => {
    await current?.emu.close();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('contract context used outside a test');
    return current;
  };
}

/** A server that answers every route with 200 and a body no provider would send. */
async function wrongShapeServer(kind: 'json' | 'html'): Promise<RunningServer> {
  const app = new Hono();
  app.all('*', (c) => (kind === 'json' ? c.json({}) : c.html('<!doctype html><html><body>Welcome to nginx!</body></html>')));
  return listen(app);
}

/** Define the contract tests for one adapter+emulator pair. */
export function runContractSuite(t: ContractTarget): void {
  describe(`${t.name}: adapter ↔ emulator contract`, () => {
    const ctx = useContract(t);
    const inputFailures = t.supports.inputFailures ?? true;

    it('declares its factory, prices and capabilities consistently', () => {
      const { adapter } = ctx();
      expect(adapter.type).toBe(t.factory.type);
      expect(t.factory.type).toBe(t.name);
      expect(new URL(t.factory.defaultBaseUrl).protocol).toBe('https:');
      for (const model of adapter.capabilities.models) {
        const price = t.factory.defaultPrices[model];
        expect(price, `default price for ${model}`).toBeDefined();
        expect(Number.isNaN(Date.parse(price!.asOf))).toBe(false);
        expect(price!.source.length).toBeGreaterThan(0);
      }
      expect(adapter.capabilities.models).toContain('kling-v3-motion-control');
      expect(adapter.capabilities.models.includes('kling-custom-element')).toBe(t.supports.elements);
      expect(adapter.capabilities.cancel).toBe(t.supports.cancel);
      expect(typeof adapter.cancel === 'function').toBe(t.supports.cancel);
      expect(adapter.capabilities.lookup).toBe(t.supports.lookup);
      expect(typeof adapter.findByAttemptId === 'function').toBe(t.supports.lookup);
    });

    for (const quality of QUALITIES) {
      it(`creates and completes a ${quality} motion task whose output is a real MP4`, async () => {
        const { adapter, emu, advance, ref } = ctx();
        const created = await adapter.create({ request: motionRequest(quality), attemptId: `att_${quality}` });
        expect(created.upstreamId).toEqual(expect.any(String));
        expect(['pending', 'processing']).toContain(created.state);
        expect(emu.state.tasksCreated).toBe(1);
        expect(emu.state.lastCreateBody).toBeDefined();
        t.assertAuth(emu.state.lastHeaders);
        advance(RUN_MS);
        const done = await adapter.status(ref(created.upstreamId, quality));
        expect(done.state).toBe('completed');
        expect(done.outputs?.length).toBeGreaterThan(0);
        t.assertAuth(emu.state.lastHeaders);
        const res = await fetch(done.outputs![0]!);
        expect(res.status).toBe(200);
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
      });
    }

    it('maps status pending → processing → completed as the clock advances', async () => {
      const { adapter, emu, advance, ref } = ctx();
      const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'att_1' });
      const r = ref(upstreamId);
      expect((await adapter.status(r)).state).toBe('pending');
      advance(QUEUE_MS);
      const running = await adapter.status(r);
      expect(running.state).toBe('processing');
      if (running.progress !== undefined) expect(running.progress).toBeGreaterThanOrEqual(0);
      advance(RUN_MS - QUEUE_MS - 1);
      expect((await adapter.status(r)).state).toBe('processing');
      advance(1);
      expect((await adapter.status(r)).state).toBe('completed');
      expect(emu.state.polls).toBeGreaterThanOrEqual(4);
    });

    it('reports outputDurationS only as the provider gives it', async () => {
      const { adapter, emu, advance, ref } = ctx();
      emu.state.fates.push({ outcome: 'complete', durationS: 7 }, { outcome: 'complete', durationS: 7, reportDuration: false });
      const a = await adapter.create({ request: motionRequest('720p'), attemptId: 'att_a' });
      const b = await adapter.create({ request: motionRequest('720p'), attemptId: 'att_b' });
      advance(RUN_MS);
      const reported = await adapter.status(ref(a.upstreamId));
      if (reported.outputDurationS !== undefined) expect(reported.outputDurationS).toBe(7);
      expect((await adapter.status(ref(b.upstreamId))).outputDurationS).toBeUndefined();
    });

    it.each([['provider-side', true], ['input-side', false]])('maps a task failure (%s) to error.providerSide', async (_label, providerSide) => {
      const { adapter, emu, advance, ref } = ctx();
      emu.state.fates.push({ outcome: 'fail', providerSide, message: 'emulated failure' });
      const { upstreamId } = await adapter.create({ request: motionRequest('1080p'), attemptId: 'att_f' });
      advance(RUN_MS);
      const s = await adapter.status(ref(upstreamId, '1080p'));
      expect(s.state).toBe('failed');
      expect(s.error?.code).toEqual(expect.any(String));
      expect(s.error?.code.length).toBeGreaterThan(0);
      expect(s.error?.providerSide).toBe(inputFailures ? providerSide : true);
      expect(s.outputs ?? []).toEqual([]);
    });

    describe('submit faults', () => {
      it.each([
        [429, 'rate_limited'],
        [500, 'unavailable'],
        [503, 'unavailable'],
        [400, 'invalid_request'],
        [422, 'invalid_request'],
      ] as const)('HTTP %i → %s', async (status, kind) => {
        const { adapter, emu } = ctx();
        emu.state.submitFaults.push({ kind: 'status', status });
        const err = await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_x' }), kind);
        expect(err.retryable).toBe(kind !== 'invalid_request');
        expect(emu.state.tasksCreated).toBe(0);
      });

      it('connection reset → unknown_outcome', async () => {
        const { adapter, emu } = ctx();
        emu.state.submitFaults.push({ kind: 'reset' });
        await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_r' }), 'unknown_outcome');
        expect(emu.state.tasksCreated).toBe(0);
      });

      it('accepted then reset → unknown_outcome, and the task exists upstream', async () => {
        const { adapter, emu } = ctx();
        emu.state.submitFaults.push({ kind: 'accept_then_reset' });
        await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_lost' }), 'unknown_outcome');
        expect(emu.state.tasksCreated).toBe(1);
        if (t.supports.lookup) {
          const found = await adapter.findByAttemptId!('att_lost', 'kling-v3-motion-control', '720p');
          expect(found?.upstreamId).toBe([...emu.state.tasks.keys()][0]);
          expect(await adapter.findByAttemptId!('att_never_sent', 'kling-v3-motion-control', '720p')).toBeNull();
        }
      });

      it('no answer in time → timeout', async () => {
        const { emu, adapterWith } = ctx();
        emu.state.submitFaults.push({ kind: 'hang', ms: 5_000 });
        const slow = adapterWith({ timeoutMs: 200 });
        await expectProviderError(slow.create({ request: motionRequest('720p'), attemptId: 'att_h' }), 'timeout');
      });
    });

    it('rejects wrong credentials as auth', async () => {
      const { emu, adapterWith } = ctx();
      const wrong = Object.fromEntries(Object.entries(t.credentials).map(([k, v]) => [k, `${v}-wrong`]));
      const err = await expectProviderError(adapterWith(wrong).create({ request: motionRequest('720p'), attemptId: 'att_w' }), 'auth');
      expect(err.retryable).toBe(true);
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('reports an id the provider does not know as not_found', async () => {
      const { adapter, ref } = ctx();
      await expectProviderError(adapter.status(ref('no-such-task-0000')), 'not_found');
    });

    for (const kind of ['json', 'html'] as const) {
      it(`turns a 200 answer of the wrong shape (${kind}) into bad_response`, async () => {
        const { adapterWith, ref } = ctx();
        const server = await wrongShapeServer(kind);
        try {
          const adapter = adapterWith({ baseUrl: server.url });
          await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_s' }), 'bad_response');
          await expectProviderError(adapter.status(ref('some-task-id')), 'bad_response');
        } finally {
          await server.close();
        }
      });
    }

    if (t.supports.cancel) {
      it('cancels a running task', async () => {
        const { adapter, emu, advance, ref } = ctx();
        const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'att_c' });
        advance(QUEUE_MS);
        await adapter.cancel!(ref(upstreamId));
        expect(emu.state.cancels).toBe(1);
        expect((await adapter.status(ref(upstreamId))).state).toBe('cancelled');
        advance(RUN_MS);
        expect((await adapter.status(ref(upstreamId))).state).toBe('cancelled');
      });
    }

    if (t.supports.elements) {
      it('creates a custom element and reports its id', async () => {
        const { adapter, advance } = ctx();
        const created = await adapter.create({ request: elementRequest, attemptId: 'att_el' });
        advance(RUN_MS);
        const done = await adapter.status({ upstreamId: created.upstreamId, model: 'kling-custom-element', quality: '720p' });
        expect(done.state).toBe('completed');
        expect(done.elementId).toEqual(expect.any(String));
        expect(done.elementId!.length).toBeGreaterThan(0);
      });
    } else {
      it('rejects element creation as invalid_request without calling upstream', async () => {
        const { adapter, emu } = ctx();
        await expectProviderError(adapter.create({ request: elementRequest, attemptId: 'att_el' }), 'invalid_request');
        expect(emu.state.createsReceived).toBe(0);
      });
    }

    it('ignores webhook bodies it does not understand', () => {
      const { adapter } = ctx();
      if (!adapter.parseWebhook) return;
      for (const body of [undefined, null, 'text', 42, {}, { id: 1 }, []]) {
        expect(adapter.parseWebhook(body, new Headers())).toBeNull();
      }
    });
  });
}
