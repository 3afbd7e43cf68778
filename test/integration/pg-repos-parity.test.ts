/**
 * The PostgreSQL repositories answer exactly as the SQLite ones: one script of calls covering every
 * method (claims included) runs against both engines, and every answer must be equal, step by step.
 * Replica safety (concurrent claims, row locks) is in pg-repos-locks.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolSql } from '../../src/db/postgres/client.ts';
import { byId, delivery, file, HOUR, job, key, NOW, pgDatabase, pgRepos, sqliteRepos, task, type R } from './pg-repos-fixtures.ts';

const DAY = 24 * HOUR;
const LEASE = 30_000;
type Step = [name: string, run: (r: R) => Promise<unknown>];

const keys: Step[] = [
  ['keys.insert', async (r) => {
    await r.keys.insert(key('key_a', NOW - DAY, 10_000_000));
    await r.keys.insert(key('key_b', NOW - DAY, null));
    await r.keys.insert({ ...key('key_c', NOW - HOUR, 0), dailyBudgetMicros: 2_000_000, route: '{"prefer":"cheap"}' });
  }],
  ['keys.list', (r) => r.keys.list()],
  ['keys.byHash', async (r) => [await r.keys.byHash('hash_key_c'), await r.keys.byHash('nope')]],
  ['keys.byId / forUpdate', async (r) => [await r.keys.byId('key_a'), await r.keys.forUpdate('key_b'), await r.keys.byId('nope'), await r.keys.forUpdate('nope')]],
  ['keys.patch', async (r) => {
    await r.keys.patch('key_a', { name: 'renamed', monthlyBudgetMicros: 9_000_000, dailyBudgetMicros: undefined });
    await r.keys.patch('key_c', { revokedAt: NOW, dailyBudgetMicros: null });
    return [await r.keys.byId('key_a'), await r.keys.byId('key_c')];
  }],
  ['keys.addBalance', async (r) => {
    await r.keys.addBalance('key_a', -1_500_000);
    await r.keys.addBalance('key_b', 5); // post-paid stays null
    return [(await r.keys.byId('key_a'))?.balanceMicros, (await r.keys.byId('key_b'))?.balanceMicros];
  }],
];

// Due schedules: none(t1 −10 s, t8 −3 s), kling(t2 −30, t3 −20, t4 −5), fal(t5 −1; t6 +1 s), runway(t7 none).
const tasks: Step[] = [
  ['tasks.insertTask', async (r) => {
    const at = (id: string, provider: string | null, nextPollAt: number | null, createdAt = NOW - HOUR) =>
      r.tasks.insertTask(task(id, 'key_a', { provider, nextPollAt, createdAt, updatedAt: createdAt }));
    await at('task_1', null, NOW - 10_000, NOW - DAY);
    await at('task_2', 'kling', NOW - 30_000);
    await at('task_3', 'kling', NOW - 20_000, NOW - DAY - HOUR);
    await at('task_4', 'kling', NOW - 5_000);
    await at('task_5', 'fal', NOW - 1_000, NOW + 2 * HOUR); // created the next day (and month)
    await at('task_6', 'fal', NOW + 1_000);
    await at('task_7', 'runway', null);
    await at('task_8', null, NOW - 3_000);
    await r.tasks.insertTask(task('task_9', 'key_b', { status: 'completed', listPriced: false, underbilled: true, producedUnits: 7, finishedAt: NOW }));
  }],
  ['tasks.insertAttempt', async (r) => {
    const base = { status: 'pending' as const, unitCostMicros: 60_000, createdAt: NOW - HOUR, updatedAt: NOW - HOUR };
    await r.tasks.insertAttempt({ ...base, id: 'att_1', taskId: 'task_2', seq: 1, providerId: 'fal', status: 'submitting', webhookToken: 'wh_1' });
    await r.tasks.insertAttempt({ ...base, id: 'att_0', taskId: 'task_2', seq: 0, providerId: 'kling', status: 'failed', errorCode: 'upstream_error', errorMessage: 'boom', upstreamId: 'up_0' });
    await r.tasks.insertAttempt({ ...base, id: 'att_3', taskId: 'task_3', seq: 0, providerId: 'kling', status: 'submitting' });
    await r.tasks.insertAttempt({ ...base, id: 'att_7', taskId: 'task_7', seq: 0, providerId: 'runway', status: 'submitting' });
  }],
  ['tasks.get / getForUpdate', async (r) => [await r.tasks.get('task_9'), await r.tasks.getForUpdate('task_2'), await r.tasks.get('nope'), await r.tasks.getForUpdate('nope')]],
  ['tasks.getWithAttempts', async (r) => [await r.tasks.getWithAttempts('task_2'), await r.tasks.getWithAttempts('task_1'), await r.tasks.getWithAttempts('nope')]],
  ['tasks.attempts', (r) => r.tasks.attempts('task_2')],
  ['tasks.updateAttempt', async (r) => {
    await r.tasks.updateAttempt('att_1', { upstreamId: 'up_1', upstreamHandle: '{"u":1}', status: 'pending', updatedAt: NOW, errorCode: undefined });
    return [await r.tasks.attempts('task_2'), await r.tasks.attempts('nope')];
  }],
  ['tasks.attemptTask / attemptByWebhookToken', async (r) => [
    await r.tasks.attemptTask('att_1'), await r.tasks.attemptTask('nope'), await r.tasks.attemptByWebhookToken('wh_1'), await r.tasks.attemptByWebhookToken('nope'),
  ]],
  ['tasks.update', async (r) => {
    await r.tasks.update('task_2', { status: 'processing', progress: 40, underbilled: true, results: null, updatedAt: NOW });
    await r.tasks.update('task_3', { reservedMicros: 800_000, refundedMicros: 300_000, status: 'failed' });
    await r.tasks.update('task_4', {});
    return [await r.tasks.get('task_2'), await r.tasks.get('task_3')];
  }],
  ['tasks.listForKey', async (r) => [
    await r.tasks.listForKey('key_a', 3), await r.tasks.listForKey('key_a', 3, 'task_6'), await r.tasks.listForKey('key_a', 3, ''), await r.tasks.listForKey('key_c', 3),
  ]],
  ['tasks.dueByProvider', async (r) => [await r.tasks.dueByProvider(NOW, 2), await r.tasks.dueByProvider(NOW, 1), await r.tasks.dueByProvider(NOW - HOUR, 5)]],
  ['tasks.submittingAttempts', async (r) => byId(await r.tasks.submittingAttempts(), 'taskId')],
  ['tasks.claimDue', async (r) => [
    await r.tasks.claimDue(NOW, 2, 'replica-a', LEASE),
    // The claimed ones are leased: only what the limit left behind is due.
    await r.tasks.claimDue(NOW, 2, 'replica-b', LEASE),
    await r.tasks.claimDue(NOW + LEASE - 1, 10, 'replica-b', LEASE),
    // After the lease every one of them is due again (equal schedules: compared as a set).
    byId(await r.tasks.claimDue(NOW + LEASE, 10, 'replica-c', LEASE)),
    await r.tasks.get('task_2'),
  ]],
  ['tasks.all', async (r) => byId(await r.tasks.all())],
];

const ledger: Step[] = [
  ['ledger.insert', async (r) => {
    await r.ledger.insert({ keyId: 'key_a', taskId: null, kind: 'credit', amountMicros: 10_000_000, balanceDeltaMicros: 10_000_000, note: 'top-up', createdAt: NOW - DAY });
    await r.ledger.insert({ keyId: 'key_a', taskId: 'task_3', kind: 'hold', amountMicros: 800_000, balanceDeltaMicros: -800_000, createdAt: NOW - DAY });
    await r.ledger.insert({ keyId: 'key_a', taskId: 'task_3', kind: 'refund', amountMicros: 300_000, balanceDeltaMicros: 300_000, createdAt: NOW });
    await r.ledger.insert({ keyId: 'key_a', taskId: 'task_2', kind: 'hold', amountMicros: 500_000, balanceDeltaMicros: -500_000, createdAt: NOW });
    await r.ledger.insert({ keyId: 'key_a', taskId: 'task_2', kind: 'charge', amountMicros: 200_000, balanceDeltaMicros: 0, createdAt: NOW });
  }],
  ['ledger.spentIn', async (r) => {
    const day = (ms: number) => ms - (ms % DAY);
    return [
      await r.ledger.spentIn('key_a', day(NOW), day(NOW) + DAY),
      await r.ledger.spentIn('key_a', day(NOW) - DAY, day(NOW)),
      await r.ledger.spentIn('key_a', Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1)),
      await r.ledger.spentIn('key_a', Date.UTC(2026, 1, 1), Date.UTC(10_000, 0, 1)),
      await r.ledger.spentIn('key_b', 0, Date.UTC(10_000, 0, 1)),
      await r.ledger.spentIn('nope', 0, NOW),
    ];
  }],
  ['ledger.balanceOf', async (r) => [await r.ledger.balanceOf('key_a'), await r.ledger.balanceOf('key_c')]],
  ['ledger.totalsByTask', async (r) => [[...(await r.ledger.totalsByTask(['task_3', 'task_2', 'task_9']))], [...(await r.ledger.totalsByTask([]))]]],
];

// Receivers: a.example (d1 −50 s, d2 −40 s), user@a.example (d4 −45 s), b.example:8443 (d3 −30 s), "c.example?q=1" (d5 −10 s).
const deliveries: Step[] = [
  ['deliveries.insert', async (r) => {
    await r.deliveries.insert(delivery('dlv_1', 'https://a.example/hook', NOW - 50_000, NOW - 5));
    await r.deliveries.insert(delivery('dlv_2', 'https://a.example/other', NOW - 40_000, NOW - 4));
    await r.deliveries.insert(delivery('dlv_3', 'https://b.example:8443/h', NOW - 30_000, NOW - 3));
    await r.deliveries.insert(delivery('dlv_4', 'https://user@a.example/hook', NOW - 45_000, NOW - 2));
    await r.deliveries.insert(delivery('dlv_5', 'http://c.example?q=1', NOW - 10_000, NOW - 1));
    await r.deliveries.insert(delivery('dlv_6', 'https://a.example/hook', null, NOW - 6));
    await r.deliveries.insert(delivery('dlv_7', 'https://a.example/hook', NOW + 1_000, NOW - 7));
    await r.deliveries.insert({ ...delivery('dlv_1', 'https://elsewhere.example/', null, NOW), payload: 'second' }); // announced once
    return r.deliveries.get('dlv_1');
  }],
  ['deliveries.dueByReceiver', async (r) => [
    await r.deliveries.dueByReceiver(NOW, 1, 10), await r.deliveries.dueByReceiver(NOW, 2, 3), await r.deliveries.dueByReceiver(NOW, 2, 10),
  ]],
  ['deliveries.claimDue', async (r) => [
    await r.deliveries.claimDue(NOW, 1, 10, 'replica-a', LEASE),
    await r.deliveries.claimDue(NOW, 1, 10, 'replica-b', LEASE),
    await r.deliveries.claimDue(NOW + LEASE - 1, 5, 10, 'replica-b', LEASE),
    byId(await r.deliveries.claimDue(NOW + LEASE, 5, 10, 'replica-c', LEASE)),
    await r.deliveries.get('dlv_1'),
  ]],
  ['deliveries.update / get / forTask / all', async (r) => {
    await r.deliveries.update('dlv_1', { status: 'delivered', nextAttemptAt: null, attempts: 2, lastStatusCode: 200, deliveredAt: NOW, lastError: null });
    return [await r.deliveries.get('dlv_1'), await r.deliveries.get('nope'), await r.deliveries.forTask('task_1'), byId(await r.deliveries.all())];
  }],
];

const idem: Step[] = [
  ['idempotency', async (r) => {
    const row = { keyId: 'key_a', idemKey: 'k-1', requestHash: 'h1', taskId: 'task_1', statusCode: null, response: null, createdAt: NOW };
    const took = await r.idempotency.put(row, NOW - DAY);
    const taken = await r.idempotency.get('key_a', 'k-1');
    await r.idempotency.complete('key_a', 'k-1', 201, '{"id":"task_1"}');
    const completed = await r.idempotency.get('key_a', 'k-1');
    // A live record is kept (the later taker loses); an expired one is replaced.
    const raced = await r.idempotency.put({ ...row, requestHash: 'h2', taskId: 'task_2' }, NOW);
    const kept = await r.idempotency.get('key_a', 'k-1');
    const retook = await r.idempotency.put({ ...row, requestHash: 'h3', taskId: 'task_3', createdAt: NOW + DAY }, NOW + 1);
    const replaced = await r.idempotency.get('key_a', 'k-1');
    await r.idempotency.release('key_a', 'k-1');
    await r.idempotency.put({ ...row, idemKey: 'old', createdAt: NOW - DAY }, 0);
    await r.idempotency.put({ ...row, idemKey: 'new', createdAt: NOW }, 0);
    await r.idempotency.purgeBefore(NOW - 1);
    const after = [await r.idempotency.get('key_a', 'k-1'), await r.idempotency.get('key_a', 'old'), await r.idempotency.get('key_a', 'new')];
    return [took, taken, completed, raced, kept, retook, replaced, after];
  }],
];

const small: Step[] = [
  ['elements', async (r) => {
    await r.elements.insert({ id: 'el_1', keyId: 'key_a', providerId: 'kling', upstreamElementId: '8812', taskId: 'task_1', createdAt: NOW });
    return [await r.elements.get('el_1'), await r.elements.get('nope')];
  }],
  ['admin overrides', async (r) => {
    const before = await r.admin.override('kling');
    await r.admin.putOverride({ providerId: 'kling', enabled: false, priority: 3, models: null, updatedAt: NOW });
    await r.admin.putOverride({ providerId: 'fal', enabled: null, priority: null, models: '{"m":{"enabled":false}}', updatedAt: NOW });
    await r.admin.putOverride({ providerId: 'kling', enabled: true, priority: null, models: '{}', updatedAt: NOW + 1 });
    return [before, await r.admin.override('kling'), byId(await r.admin.overrides(), 'providerId')];
  }],
  ['admin audit', async (r) => {
    const none = await r.admin.lastAuditId();
    for (let i = 1; i <= 3; i++) await r.admin.insertAudit({ at: NOW + i, action: `act${i}`, target: 'kling', before: null, after: `{"i":${i}}`, requestId: i === 2 ? null : `req_${i}` });
    const first = await r.admin.listAudit(2);
    return [none, await r.admin.lastAuditId(), first, await r.admin.listAudit(2, first.at(-1)!.id), await r.admin.listAudit(5, 1)];
  }],
  ['health', async (r) => {
    const row = { provider: 'kling', model: 'video-fast', outcomes: 'ssf', completions: '[40,42]', consecutiveFailures: 1, openUntil: null, updatedAt: NOW };
    await r.health.put([row, { ...row, model: 'video-pro', outcomes: '' }]);
    const first = byId(await r.health.all(), 'model');
    await r.health.put([{ ...row, outcomes: 'ssff', consecutiveFailures: 2, openUntil: NOW + 30_000, updatedAt: NOW + 1 }]);
    await r.health.put([]);
    return [first, byId(await r.health.all(), 'model')];
  }],
  ['sessions', async (r) => {
    const s = { idHash: 's1', purpose: 'session' as const, role: 'admin' as const, keyId: null, adminHash: 'ah', createdAt: NOW, expiresAt: NOW + DAY };
    await r.sessions.insert(s);
    await r.sessions.insert({ ...s, idHash: 'l1', purpose: 'login', role: 'key', keyId: 'key_a', adminHash: null });
    await r.sessions.insert({ ...s, idHash: 'old', expiresAt: NOW - 1 });
    await r.sessions.insert({ ...s, idHash: 'edge', expiresAt: NOW });
    const got = [await r.sessions.get('s1', 'session'), await r.sessions.get('s1', 'login'), await r.sessions.get('l1', 'session')];
    const taken = [await r.sessions.take('l1', 'session'), await r.sessions.take('l1', 'login'), await r.sessions.take('l1', 'login')];
    await r.sessions.delete('s1');
    await r.sessions.purgeExpired(NOW);
    return [got, taken, await r.sessions.get('s1', 'session'), await r.sessions.get('old', 'session'), await r.sessions.get('edge', 'session')];
  }],
];

const files: Step[] = [
  ['files.insert / get / byToken / update', async (r) => {
    await r.files.insert(file('file_1'));
    await r.files.insert(file('file_2', { purpose: 'output', taskId: 'task_1', upstreamUrl: 'https://up.example/o.mp4', sha256: 'shared', expiresAt: NOW - 10 }));
    await r.files.insert(file('file_3', { purpose: 'input', upstreamUrl: 'https://in.example/a.png', sha256: 'shared', expiresAt: NOW - 20 }));
    await r.files.insert(file('file_4', { deletedAt: NOW, expiresAt: NOW - 30, purgedAt: NOW }));
    await r.files.insert(file('file_5', { keyId: 'key_b', expiresAt: NOW - 5 }));
    await r.files.update('file_1', { durationS: 5.3, width: 1280, height: 720 });
    return [await r.files.get('file_1'), await r.files.byToken('tok_file_2'), await r.files.get('nope'), await r.files.byToken('nope')];
  }],
  ['files reads', async (r) => [
    await r.files.listForKey('key_a', 1), await r.files.listForKey('key_a', 5, 'file_2'), await r.files.listForKey('key_a', 5),
    await r.files.expired(NOW, 10), await r.files.expired(NOW, 1),
    await r.files.liveRefs('shared'), await r.files.liveRefs('sha_file_4'), await r.files.liveHashes(),
    await r.files.recentInput('key_a', 'https://in.example/a.png', 'file_0'), await r.files.recentInput('key_a', 'https://in.example/a.png', 'file_4'),
  ]],
  ['files.claimExpired', async (r) => [
    await r.files.claimExpired(NOW, 2, 'replica-a', LEASE),
    await r.files.claimExpired(NOW, 10, 'replica-b', LEASE),
    await r.files.claimExpired(NOW + LEASE - 1, 10, 'replica-b', LEASE),
    await r.files.claimExpired(NOW + LEASE, 10, 'replica-c', LEASE),
  ]],
  ['mirror jobs', async (r) => {
    await r.files.insertJob(job('task_1', NOW - 5));
    await r.files.insertJob(job('task_2', NOW - 10, { fileIds: '["file_2"]', tries: 1 }));
    await r.files.insertJob(job('task_3', NOW - 20, { doneAt: NOW - 1, outcome: 'failed' }));
    await r.files.insertJob(job('task_4', NOW + 5));
    const due = await r.files.dueJobs(NOW, 10);
    const claims = [await r.files.claimJobs(NOW, 10, 'replica-a', LEASE), await r.files.claimJobs(NOW, 10, 'replica-b', LEASE)];
    // A claim is renewed only by its holder, and only while the job is not done.
    await r.files.renewJob('task_2', 'replica-a', NOW + 2 * LEASE);
    await r.files.renewJob('task_1', 'replica-b', NOW + 2 * LEASE);
    const renewed = [await r.files.job('task_2'), await r.files.job('task_1')];
    await r.files.updateJob('task_1', { doneAt: NOW, outcome: 'mirrored', leaseOwner: null, lastError: undefined });
    await r.files.renewJob('task_1', 'replica-a', NOW + 3 * LEASE);
    return [due, claims, renewed, await r.files.job('task_1'), await r.files.job('nope'), await r.files.claimJobs(NOW + LEASE, 10, 'replica-c', LEASE)];
  }],
];

const script = [...keys, ...tasks, ...ledger, ...deliveries, ...idem, ...small, ...files];

describe('PostgreSQL repositories answer as the SQLite ones', () => {
  const answers: { sqlite: unknown[]; pg: unknown[] } = { sqlite: [], pg: [] };

  beforeAll(async () => {
    const lite = sqliteRepos();
    try {
      for (const [, run] of script) answers.sqlite.push(await run(lite.repos));
    } finally {
      lite.close();
    }
    const db = await pgDatabase(2);
    try {
      const repos = pgRepos(poolSql(db.pool));
      for (const [, run] of script) answers.pg.push(await run(repos));
    } finally {
      await db.close();
    }
  });

  it.each(script.map(([name], i) => [name, i] as const))('%s', (_name, i) => {
    expect(answers.pg[i]).toStrictEqual(answers.sqlite[i]);
  });

  it('the script exercised what it claims (claims are not empty, values are real)', () => {
    const claims = answers.sqlite[script.findIndex(([n]) => n === 'tasks.claimDue')] as unknown[][];
    expect(claims[0]).toHaveLength(5);
    expect(claims[1]).toStrictEqual([{ id: 'task_4', provider: 'kling' }]);
    expect(claims[3]).toHaveLength(6);
    const idem = answers.sqlite[script.findIndex(([n]) => n === 'idempotency')] as unknown[];
    expect([idem[0], idem[3], idem[5]]).toStrictEqual([true, false, true]);
  });
});
