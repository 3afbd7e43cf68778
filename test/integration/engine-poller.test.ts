/**
 * Poller defects of issue 8: one transient "not found" between normal polls must not fail a task
 * over (#3), and one hanging provider must not keep another's due tasks from being polled (#7).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, rawExec, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('poller', () => {
  it('one 404 between normal polls keeps the task; three in a row fail it over', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-a', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 }, emulator: { runMs: 600_000 } },
        { id: 'kie-b', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.provider).toBe('fal-a');
    const fal = gw.emulators['fal-a']!.state;
    const [upstreamId, sim] = [...fal.tasks][0]!;
    const poll = async () => {
      gw.advance(10_000);
      expect(await gw.runtime.poller.runDue()).toBe(1);
    };
    const attempts = async () => (await gw.call('GET', `/v1/tasks/${res.body.id}`)).body.attempts as { provider: string; status: string }[];

    await poll();
    await poll();
    fal.tasks.delete(upstreamId); // one transient "not found"…
    await poll();
    fal.tasks.set(upstreamId, sim); // …then the upstream answers again
    await poll();
    await poll();
    expect(await attempts()).toEqual([expect.objectContaining({ provider: 'fal-a', status: 'processing' })]);

    // A 404, a normal answer, then two 404s: still not three in a row.
    fal.tasks.delete(upstreamId);
    await poll();
    fal.tasks.set(upstreamId, sim);
    await poll();
    fal.tasks.delete(upstreamId);
    await poll();
    await poll();
    expect((await attempts()).length).toBe(1);
    await poll(); // the third in a row: lost
    expect(await attempts()).toEqual([
      expect.objectContaining({ provider: 'fal-a', status: 'failed' }),
      expect.objectContaining({ provider: 'kie-b' }),
    ]);
  });

  it('after a restart, an attempt left `submitting` is reconciled once its create timed out, not 30 s later', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-a', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } },
        { id: 'kie-b', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    // What a SIGKILL during the create leaves: the intent written, no answer recorded, the live-process deadline.
    const [attempt] = await gw.store.tasks.attempts(res.body.id);
    await gw.store.tasks.updateAttempt(attempt!.id, { status: 'submitting', upstreamId: null });
    await gw.store.tasks.update(res.body.id, { nextPollAt: attempt!.createdAt + 32_000 });

    await gw.runtime.poller.start(); // the restarted process
    gw.advance(2_500); // past fal-a's 2 s create timeout, far from 32 s
    if (gw.store.engine === 'postgres') {
      // Replicas: another one may still be sending that create, so nobody asks before the whole margin.
      await sleep(300);
      expect((await gw.store.tasks.attempts(res.body.id)).map((a) => a.status)).toEqual(['submitting']);
      gw.advance(30_000);
    }
    const moved = async () => (await gw.store.tasks.attempts(res.body.id))[1]?.upstreamId != null;
    for (let i = 0; i < 250 && !(await moved()); i++) await sleep(20); // the started poller's own tick (real timers)
    // fal cannot be asked by attempt id: the outcome is unknown, and the task moves on.
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => [a.providerId, a.status])).toEqual([
      ['fal-a', 'unknown'],
      ['kie-b', expect.stringMatching(/pending|processing/)],
    ]);
  });

  it('reconciling a lost create: one "not found" lookup does not fail it over; the create is adopted', async () => {
    gw = await startGateway({
      providers: [
        { id: 'kling-a', type: 'kling', price: { '720p': 0.1, '1080p': 0.2 } },
        { id: 'kie-b', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.provider).toBe('kling-a');
    const [attempt] = await gw.store.tasks.attempts(res.body.id);
    const upstreamId = attempt!.upstreamId!;
    await gw.store.tasks.updateAttempt(attempt!.id, { status: 'submitting', upstreamId: null });
    const kling = gw.emulators['kling-a']!.state;
    const sim = kling.tasks.get(upstreamId)!;
    kling.tasks.delete(upstreamId); // the lookup misses it once…
    gw.advance(60_000);
    await gw.runtime.poller.runDue();
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => a.status)).toEqual(['submitting']);
    kling.tasks.set(upstreamId, sim); // …then finds it
    gw.advance(10_000);
    await gw.runtime.poller.runDue();
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => [a.providerId, a.upstreamId])).toEqual([['kling-a', upstreamId]]);
    expect(kling.tasksCreated).toBe(1);
    expect((await gw.settle(res.body.id)).status).toBe('completed');
  });

  it('a create that timed out and is not found right after is looked up again, not sent elsewhere', async () => {
    gw = await startGateway({
      providers: [
        { id: 'kling-a', type: 'kling', price: { '720p': 0.1, '1080p': 0.2 } },
        { id: 'kie-b', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    const kling = gw.emulators['kling-a']!.state;
    kling.submitFaults.push({ kind: 'hang', ms: 3_500 }); // past the 2 s timeout; the task lands after the first lookup
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.status).toBe(200);
    expect(res.body.attempts).toEqual([expect.objectContaining({ provider: 'kling-a', upstream_id: null })]);
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => a.status)).toEqual(['submitting']);
    for (let i = 0; i < 250 && kling.tasksCreated === 0; i++) await sleep(20); // the emulator's real 3.5 s hang ends
    expect(kling.tasksCreated).toBe(1);
    gw.advance(1_000);
    await gw.runtime.poller.runDue(); // the lookup finds it now: adopted, no second create
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => [a.providerId, a.upstreamId !== null])).toEqual([['kling-a', true]]);
    expect((await gw.settle(res.body.id)).status).toBe('completed');
    expect(gw.emulators['kie-b']!.state.createsReceived).toBe(0);
  });

  it('an input rejection found by a poll ends attempt and task together: a failure in between fails nothing over', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-a', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } },
        { id: 'kie-b', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    gw.emulators['fal-a']!.state.fates.push({ outcome: 'fail', code: 'invalid_image', message: 'no person in the image', providerSide: false });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    // The task's end cannot be written (as if the process died right there): another connection adds a trigger.
    await rawExec(gw, {
      sqlite: `CREATE TRIGGER crash_on_fail BEFORE UPDATE OF status ON tasks WHEN NEW.status = 'failed' BEGIN SELECT RAISE(ABORT, 'crash'); END`,
      postgres: `CREATE FUNCTION crash_on_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.status = 'failed' THEN RAISE EXCEPTION 'crash'; END IF; RETURN NEW; END $$;
                 CREATE TRIGGER crash_on_fail BEFORE UPDATE OF status ON tasks FOR EACH ROW EXECUTE FUNCTION crash_on_fail()`,
    });
    gw.advance(10_000);
    await gw.runtime.poller.runDue();
    expect((await gw.store.tasks.attempts(res.body.id)).map((a) => a.status)).not.toContain('failed');
    await rawExec(gw, { sqlite: 'DROP TRIGGER crash_on_fail', postgres: 'DROP TRIGGER crash_on_fail ON tasks; DROP FUNCTION crash_on_fail()' });

    const done = await gw.settle(res.body.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'upstream_rejected' }, usage: { charged_usd: 0 } });
    expect(done.attempts.map((a: { provider: string }) => a.provider)).toEqual(['fal-a']);
    expect(gw.emulators['kie-b']!.state.createsReceived).toBe(0);
  });

  it('a hanging provider with a backlog larger than the batch does not delay another provider', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-slow', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 }, emulator: { runMs: 600_000 } },
        { id: 'kie-fast', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
      config: { polling: { initial_ms: 1_000, max_ms: 5_000, batch: 3, per_provider_concurrency: 1 } },
    });
    const slow = gw.emulators['fal-slow']!.state;
    for (let i = 0; i < 6; i++) expect((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) })).body.provider).toBe('fal-slow');
    // The next creates fail on fal-slow (its circuit opens) and go to kie-fast.
    slow.submitFaults.push(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 503 })));
    const fast: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
      expect(res.body.provider).toBe('kie-fast');
      fast.push(res.body.id);
    }
    // fal-slow now hangs every status call past the adapter's 2 s timeout.
    slow.latencyMs = 3_000;

    await gw.runtime.poller.start();
    const ended = () => fast.filter(async (id) => (await gw.store.tasks.get(id))!.status === 'completed').length;
    // Well inside the first hanging call's timeout, every kie-fast task must have been polled to its end.
    for (let i = 0; i < 30 && ended() < fast.length; i++) {
      gw.advance(1_000);
      await sleep(40);
    }
    expect(ended()).toBe(fast.length);
    expect(slow.polls).toBeLessThanOrEqual(1);
  });
});
