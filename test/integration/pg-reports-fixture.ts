/**
 * The scripted data of the PostgreSQL reports parity test: keys, tasks, attempts and ledger lines,
 * then the changes a gateway makes to tasks (settlement, failover, cancel), written to either engine
 * through its drizzle schema, so both hold exactly the same rows (and the rollup triggers run on both).
 *
 * Deterministic (seeded): tasks cluster around a UTC midnight and the January→February month end;
 * key names, models and providers differ in case, accents and CSV-hostile characters so that sort
 * order and CSV quoting are exercised; a few amounts exceed 2^31 micro-USD.
 */
import type { AttemptRow, LedgerKind, TaskRow } from '../../src/db/schema/index.ts';

const MODELS = ['kling-2.1', 'Veo-3', 'veo-3', 'wan-2.2'] as const;
/** Upstream ids per provider are only unique per provider; null means no provider ran the task. */
export const PROVIDERS = ['fal', 'kie', 'Replicate', 'wavespeed', null] as const;

export interface KeySeed {
  id: string;
  name: string;
  keyHash: string;
  prefix: string;
  webhookSecret: string;
  balanceMicros: number | null;
  createdAt: number;
}

export interface LedgerSeed {
  keyId: string;
  taskId: string;
  kind: LedgerKind;
  amountMicros: number;
  balanceDeltaMicros: number;
  note: string | null;
  createdAt: number;
}

type TaskSeed = Pick<
  TaskRow,
  'id' | 'keyId' | 'model' | 'quality' | 'status' | 'request' | 'billingRule' | 'billableUnits' | 'unitPriceMicros' | 'listPriced' | 'reservedMicros' | 'provider' | 'nextPollAt' | 'createdAt' | 'updatedAt'
>;
type AttemptSeed = Pick<AttemptRow, 'id' | 'taskId' | 'seq' | 'providerId' | 'upstreamId' | 'status' | 'unitCostMicros' | 'createdAt' | 'updatedAt'>;
type TaskPatch = Partial<Pick<TaskRow, 'status' | 'provider' | 'chargedMicros' | 'refundedMicros' | 'upstreamCostMicros' | 'billableUnits' | 'reservedMicros' | 'nextPollAt' | 'underbilled' | 'finishedAt'>>;

/** What to write, in order: inserts, then task updates (each one a separate statement, as the engine does). */
export interface Fixture {
  keys: KeySeed[];
  tasks: TaskSeed[];
  attempts: AttemptSeed[];
  ledger: LedgerSeed[];
  updates: [taskId: string, patch: TaskPatch][];
}

/** 2026-01-31 00:00 UTC: the day before the month end's midnight. */
export const JAN_31 = Date.UTC(2026, 0, 31);
const DAY = 86_400_000;
/** Creation times: both sides of two midnights (Jan 30→31, Jan 31→Feb 1), by the millisecond, and some spread. */
const EDGES = [JAN_31 - 1, JAN_31, JAN_31 + DAY - 1, JAN_31 + DAY, JAN_31 + DAY + 1, JAN_31 - DAY + 5];

/** A seeded generator (mulberry32): the same data on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildFixture(taskCount = 240): Fixture {
  const rnd = random(13);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const token = () => Array.from({ length: 12 }, () => '0123456789abcdefghijklmnopqrstuvwxyz'[int(0, 35)]).join('');
  const idAt = (prefix: string, at: number) => `${prefix}_${at.toString(36).padStart(9, '0')}${token()}`;

  // Names that sort differently by bytes and by locale, tie on name, and need CSV quoting or a formula guard.
  const names = ['alpha', 'Beta', 'beta', 'alpha', 'émile', 'Zed, "inc"', '=SUM(A1)', '_ops'];
  const keys: KeySeed[] = names.map((name, i) => ({
    id: idAt('key', JAN_31 - 30 * DAY + i),
    name,
    keyHash: `hash${i}`,
    prefix: `rr_${i}`,
    webhookSecret: `whsec_${i}`,
    balanceMicros: i % 3 === 0 ? null : 1_000_000_000,
    createdAt: JAN_31 - 30 * DAY + i,
  }));
  // One key never makes a task: its usage report is empty.
  const active = keys.slice(0, -1);

  const fx: Fixture = { keys, tasks: [], attempts: [], ledger: [], updates: [] };
  let ledgerAt = JAN_31;
  const line = (task: TaskSeed, kind: LedgerKind, amount: number) =>
    fx.ledger.push({
      keyId: task.keyId,
      taskId: task.id,
      kind,
      amountMicros: amount,
      balanceDeltaMicros: kind === 'hold' ? -amount : kind === 'refund' ? amount : 0,
      note: kind === 'refund' ? pick([null, 'failed upstream', 'cancelled, "by client"']) : null,
      createdAt: ledgerAt++,
    });

  for (let i = 0; i < taskCount; i++) {
    const createdAt = i < EDGES.length * 3 ? EDGES[i % EDGES.length]! : JAN_31 - DAY + int(0, 3 * DAY);
    const units = int(1, 10);
    // Some holds above 2^31 micro-USD: sums must stay exact integers.
    const unitPrice = i % 17 === 0 ? 900_000_000 : int(10_000, 250_000);
    const reserved = units * unitPrice;
    const provider = pick(PROVIDERS);
    const queued = provider === null && rnd() < 0.3;
    const task: TaskSeed = {
      id: idAt('task', createdAt),
      keyId: pick(active).id,
      model: pick(MODELS),
      quality: '720p',
      status: provider === null && !queued ? 'failed' : 'pending',
      request: '{}',
      billingRule: 'per_second',
      billableUnits: units,
      unitPriceMicros: unitPrice,
      listPriced: rnd() < 0.5,
      reservedMicros: reserved,
      provider,
      nextPollAt: provider === null && !queued ? null : createdAt + int(1, 600) * 1_000,
      createdAt,
      updatedAt: createdAt,
    };
    fx.tasks.push(task);
    line(task, 'hold', reserved);
    // Waiting for a provider (none had capacity): in flight, due for dispatch, no provider yet.
    if (queued) continue;
    if (provider === null) {
      // Refused before any provider ran it: all refunded at once.
      fx.updates.push([task.id, { refundedMicros: reserved, finishedAt: createdAt + 1 }]);
      line(task, 'refund', reserved);
      continue;
    }

    // Attempts: sometimes a failover first (an earlier provider failed, or its create's answer was lost).
    const unitCost = Math.floor(unitPrice * 0.6);
    const tries: string[] = rnd() < 0.3 ? [pick(PROVIDERS.filter((p) => p !== null && p !== provider)) as string, provider] : [provider];
    let at = createdAt + 10;
    tries.forEach((p, seq) => {
      const last = seq === tries.length - 1;
      const lost = !last && rnd() < 0.5;
      fx.attempts.push({
        id: idAt('att', at),
        taskId: task.id,
        seq,
        providerId: p,
        upstreamId: lost ? null : `${p}-${token()}`,
        status: last ? 'pending' : lost ? 'unknown' : 'failed',
        unitCostMicros: unitCost,
        // Attempts of one task at the same millisecond: the id breaks the tie.
        createdAt: at,
        updatedAt: at,
      });
      if (rnd() < 0.7) at += int(1, 3_600_000);
    });
    if (tries.length > 1) fx.updates.push([task.id, { provider: tries[0] }], [task.id, { provider }]);

    const fate = rnd();
    const finishedAt = createdAt + int(60_000, 2 * DAY);
    if (fate < 0.45) {
      // Completed, settled (maybe after midnight): charge what was produced, refund the rest.
      const produced = int(1, units);
      const charged = produced * unitPrice;
      fx.updates.push([task.id, { status: 'processing' }]);
      fx.updates.push([task.id, { status: 'completed', chargedMicros: charged, refundedMicros: reserved - charged, upstreamCostMicros: produced * unitCost, nextPollAt: null, finishedAt }]);
      line(task, 'charge', charged);
      if (reserved > charged) line(task, 'refund', reserved - charged);
    } else if (fate < 0.65) {
      fx.updates.push([task.id, { status: 'failed', refundedMicros: reserved, nextPollAt: null, finishedAt }]);
      line(task, 'refund', reserved);
    } else if (fate < 0.8) {
      fx.updates.push([task.id, { status: 'cancelled', refundedMicros: reserved, nextPollAt: null, finishedAt }]);
      line(task, 'refund', reserved);
    } else if (fate < 0.9) {
      fx.updates.push([task.id, { status: 'processing', nextPollAt: createdAt + int(1, 100) * 1_000 }]);
    }
    // else: still pending.
  }

  // Every attempt's status follows its task's end (the last attempt is the one that ran it).
  const statusOf = new Map(fx.tasks.map((t) => [t.id, t.status as string]));
  for (const [id, patch] of fx.updates) if (patch.status) statusOf.set(id, patch.status);
  const lastSeq = new Map<string, number>();
  for (const a of fx.attempts) lastSeq.set(a.taskId, Math.max(lastSeq.get(a.taskId) ?? 0, a.seq));
  for (const a of fx.attempts) if (a.seq === lastSeq.get(a.taskId)) a.status = statusOf.get(a.taskId) as AttemptRow['status'];
  // An attempt still being sent (written before the create): cost is its quote, like unknown.
  const sending = fx.attempts.find((a) => a.status === 'pending');
  if (sending) sending.status = 'submitting';
  // Two attempts with the same upstream id (a lost answer found again): one bill on the statement.
  const dup = fx.attempts.filter((a) => a.upstreamId !== null && a.providerId === 'fal').slice(0, 2);
  if (dup.length === 2) dup[1]!.upstreamId = dup[0]!.upstreamId;
  // An upstream id full of what array literals and SQL quote: it must travel whole.
  const odd = fx.attempts.find((a) => a.upstreamId !== null && a.providerId === 'kie');
  if (odd) odd.upstreamId = `kie-"q",{x}\\y NULL 'z'`;
  return fx;
}
