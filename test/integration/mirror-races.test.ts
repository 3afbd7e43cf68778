/**
 * Races around a waiting output mirror (CONTRACT §8): once a completion is handed to the mirror,
 * nothing the poller hears (late webhooks, a forgotten upstream task) may put the task back on the
 * poll schedule, fail it over or let another attempt complete it; and the completion the mirror
 * replays keeps `results` and `result_files` in agreement.
 */
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { OutputMirror } from '../../src/files/mirror.ts';
import { createRuntime } from '../../src/runtime.ts';
import { dispatch } from '../../src/tasks/dispatch.ts';
import type { UpstreamStatus } from '../../providers/types.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let gw: Gateway;
afterEach(async () => {
  try {
    await expectLedgerInvariants(gw.store);
  } finally {
    await gw.close();
  }
});

/** A gateway whose mirror does not run on its own; returns a task id whose completion waits in a mirror job. */
async function waitingMirror(): Promise<string> {
  gw = await startGateway({ providers: [{ id: 'fal-1', type: 'fal', price: PRICE, priority: 1 }, { id: 'fal-2', type: 'fal', price: PRICE, priority: 2 }], config: {} });
  gw.runtime.files.files.useLoopbackBase(gw.url);
  await gw.runtime.files.mirror.stop();
  const id = (await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) })).body.id as string;
  for (let i = 0; i < 20 && !(await gw.store.files.job(id)); i++) {
    gw.advance(1_000);
    await gw.runtime.poller.runDue();
  }
  expect((await gw.store.files.job(id))).toMatchObject({ outcome: null, doneAt: null });
  expect((await gw.store.tasks.get(id))!.nextPollAt).toBeNull();
  return id;
}

/** The mirror, running again (a fresh one over the same database, as after a restart); runs its due jobs. */
function resumedMirror(): OutputMirror {
  const mirror = new OutputMirror(gw.runtime.ctx, (t, a, s) => gw.runtime.poller.complete(t, a, s));
  gw.runtime.ctx.mirror = mirror;
  return mirror;
}

it('a late processing webhook neither reschedules the task nor lets a forgotten upstream fail it over', async () => {
  const id = await waitingMirror();
  const a1 = (await gw.store.tasks.attempts(id)).at(-1)!;
  // A retried progress event arriving after the end event.
  expect(await gw.runtime.poller.applyEvent(a1.id, { state: 'processing', progress: 50 } as UpstreamStatus)).toBe(false);
  expect((await gw.store.tasks.get(id))!.nextPollAt).toBeNull();
  const reads = gw.emulators['fal-1']!.state.polls;
  let polls = 0;
  for (let i = 0; i < 5; i++) {
    gw.advance(60_000);
    polls += await gw.runtime.poller.runDue();
  }
  gw.emulators['fal-1']!.state.tasks.clear();
  for (let i = 0; i < 10; i++) {
    gw.advance(60_000);
    polls += await gw.runtime.poller.runDue();
  }
  expect(polls).toBe(0);
  expect(gw.emulators['fal-1']!.state.polls).toBe(reads);
  expect(gw.emulators['fal-2']!.state.createsReceived).toBe(0);
  expect((await gw.store.tasks.attempts(id))).toHaveLength(1);
  // The upstream forgot the outputs too: the mirror gives up and completes from the same attempt, with its URLs.
  const mirror = resumedMirror();
  for (let i = 0; i < 10 && (await gw.store.tasks.get(id))!.status !== 'completed'; i++) {
    gw.advance(60_000);
    await mirror.runDue();
  }
  const done = (await gw.call('GET', `/v1/tasks/${id}`)).body;
  expect(done.status).toBe('completed');
  expect(done.provider).toBe('fal-1');
  expect((await gw.store.tasks.attempts(id)).map((a) => a.status)).toEqual(['completed']);
  expect(done.usage.charged_usd).toBe(0.5);
});

it('a completion whose output header read fails is replayed by the mirror later: results and result_files agree', async () => {
  const id = await waitingMirror();
  const ctx = gw.runtime.ctx;
  // The upstream did not report the duration: the completion reads the output's header. The first read fails.
  const job = (await gw.store.files.job(id))!;
  const status = JSON.parse(job.upstreamStatus) as UpstreamStatus;
  delete status.outputDurationS;
  await gw.store.files.updateJob(id, { upstreamStatus: JSON.stringify(status) });
  const probe = ctx.probe;
  let failures = 1;
  ctx.probe = { ...probe, duration: async (url) => (failures-- > 0 ? { ok: false, reason: 'injected header read failure' } : probe.duration(url)) };
  const reads = gw.emulators['fal-1']!.state.polls;
  const mirror = resumedMirror();
  await mirror.runDue();
  expect((await gw.store.tasks.get(id))!.status).not.toBe('completed');
  expect((await gw.store.tasks.get(id))!.nextPollAt).toBeNull();
  expect((await gw.store.files.job(id))!.doneAt).toBeNull();
  let polls = 0;
  for (let i = 0; i < 10 && (await gw.store.tasks.get(id))!.status !== 'completed'; i++) {
    gw.advance(5_000);
    polls += await gw.runtime.poller.runDue();
    await mirror.runDue();
  }
  expect(polls).toBe(0);
  expect(gw.emulators['fal-1']!.state.polls).toBe(reads);
  const done = (await gw.call('GET', `/v1/tasks/${id}`)).body;
  expect(done.status).toBe('completed');
  expect(done.results[0]).toMatch(new RegExp(`^${gw.url}/files/`));
  expect(done.result_files.map((f: { url: string }) => f.url)).toEqual(done.results);
  expect(done.usage.charged_usd).toBe(0.5);
});

it('a job whose attempt is no longer the latest never completes the task: the new attempt does', async () => {
  const id = await waitingMirror();
  const a1 = (await gw.store.tasks.attempts(id)).at(-1)!;
  // The state an older gateway left (it failed a waiting task over): attempt 1 ended, attempt 2 runs on fal-2.
  await gw.store.tasks.updateAttempt(a1.id, { status: 'failed', errorCode: 'upstream_lost', errorMessage: 'lost', updatedAt: gw.now() });
  expect((await dispatch(gw.runtime.ctx, id)).kind).toBe('accepted');
  const a2 = (await gw.store.tasks.attempts(id)).at(-1)!;
  expect(a2.providerId).toBe('fal-2');
  const mirror = resumedMirror();
  await mirror.runDue();
  // Not completed from attempt 1 (whose outputs it holds): the task goes back to the poller for attempt 2.
  expect((await gw.store.tasks.get(id))!.status).not.toBe('completed');
  expect((await gw.store.tasks.attempts(id))[0]!.status).toBe('failed');
  expect((await gw.store.files.job(id))!.doneAt).not.toBeNull();
  for (let i = 0; i < 20 && (await gw.store.tasks.get(id))!.status !== 'completed'; i++) {
    gw.advance(1_000);
    await gw.runtime.poller.runDue();
    await mirror.runDue();
  }
  const done = (await gw.call('GET', `/v1/tasks/${id}`)).body;
  expect(done.status).toBe('completed');
  expect(done.provider).toBe('fal-2');
  expect(done.results[0]).toContain(gw.emulators['fal-2']!.url);
  expect((await gw.store.tasks.attempts(id)).map((a) => a.status)).toEqual(['failed', 'completed']);
});

it('a mirror resumed after a restart without a public base completes with the upstream URLs, never null', async () => {
  const id = await waitingMirror();
  // What a restart builds when the config has no public_base_url (the loopback base was demo-only).
  const restarted = await createRuntime({ config: gw.runtime.ctx.config, store: gw.store, adminKey: ADMIN_KEY, now: gw.now, log: pino({ level: 'silent' }) });
  expect(restarted.files.files.base()).toBeNull();
  await restarted.files.mirror.runDue();
  const task = (await gw.store.tasks.get(id))!;
  expect(task.status).toBe('completed');
  const results = JSON.parse(task.results!) as unknown[];
  expect(results).toHaveLength(1);
  expect(results[0]).toMatch(/\/__files\//);
});
