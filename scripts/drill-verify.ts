/**
 * The drill's verdict, from three witnesses that must agree: the API (the settled task list and the
 * key's balance), the database (opened with openStore after the gateways stopped, SQLite or PostgreSQL: tasks, attempts,
 * ledger, outbox), and the drill's own upstreams (every upstream create, every callback received).
 */
import { openStore } from '../src/db/store.ts';
import type { AttemptRow, TaskRow } from '../src/db/schema/index.ts';
import type { SubmitOutcome } from './drill-load.ts';
import type { PlannedTask } from './drill-plan.ts';
import { TERMINAL, webhookIdOf, type SettleResult } from './drill-settle.ts';
import type { Receipt, Upstreams } from './drill-upstreams.ts';

export type Area = 'tasks' | 'ledger' | 'creates' | 'callbacks';

export interface VerifyInput {
  /** The database's location: a SQLite file or a postgres:// URL. */
  location: string;
  keyId: string;
  initialBalanceMicros: number;
  apiBalanceUsd: number | null;
  plan: readonly PlannedTask[];
  submits: ReadonlyMap<number, SubmitOutcome>;
  settled: SettleResult;
  upstreams: Upstreams;
  /** `tasks_created` per provider id, from GET /__emulator/stats. */
  upstreamStats: ReadonlyMap<string, number>;
}

export interface Verdict {
  problems: Record<Area, string[]>;
  notes: string[];
  status: Record<string, number>;
  created: number;
  recovered: number;
  deliveries: number;
  missingCallbacks: number;
  /** Task events answered 2xx more than once (a kill between the 200 and its record). */
  duplicateCallbacks: number;
  peakInFlight: number;
}

const micros = (usd: number): number => Math.round(usd * 1e6);
const PROMPT_RE = /drill:(\d+):/;
const LIVE = new Set(['submitting', 'pending', 'processing']);

export async function verify(v: VerifyInput): Promise<Verdict> {
  const problems: Record<Area, string[]> = { tasks: [], ledger: [], creates: [], callbacks: [] };
  const notes: string[] = [];
  const store = await openStore(v.location);
  let tasks: TaskRow[];
  const attemptsOf = new Map<string, AttemptRow[]>();
  let totals: Awaited<ReturnType<typeof store.ledger.totalsByTask>>;
  let keyBalance: number | null;
  let ledgerBalance: number;
  let deliveryRows: Awaited<ReturnType<typeof store.deliveries.all>>;
  try {
    tasks = await store.tasks.all();
    for (const t of tasks) attemptsOf.set(t.id, (await store.tasks.attempts(t.id)));
    totals = await store.ledger.totalsByTask(tasks.map((t) => t.id));
    keyBalance = (await store.keys.byId(v.keyId))?.balanceMicros ?? null;
    ledgerBalance = await store.ledger.balanceOf(v.keyId);
    deliveryRows = await store.deliveries.all();
  } finally {
    await store.close();
  }

  // ── tasks: every submit accounted for, every task terminal, API and database agree ──
  const idxOfTask = new Map<string, number>();
  const tasksOfIdx = new Map<number, TaskRow[]>();
  for (const t of tasks) {
    const m = PROMPT_RE.exec(t.request);
    if (!m) {
      problems.tasks.push(`task ${t.id}: not a drill task (request ${t.request.slice(0, 80)})`);
      continue;
    }
    const idx = Number(m[1]);
    idxOfTask.set(t.id, idx);
    tasksOfIdx.set(idx, [...(tasksOfIdx.get(idx) ?? []), t]);
    if (!TERMINAL.has(t.status)) problems.tasks.push(`task ${t.id} (#${idx}): still ${t.status} (attempts ${describe(attemptsOf.get(t.id))})`);
    // An ended task whose attempt still runs: two paths (replicas) moved it on at once, and an upstream task was left behind.
    else if ((attemptsOf.get(t.id) ?? []).some((a) => LIVE.has(a.status))) problems.tasks.push(`task ${t.id} (#${idx}): ${t.status} with an attempt still live (attempts ${describe(attemptsOf.get(t.id))})`);
  }
  let recovered = 0;
  for (const t of v.plan) {
    const rows = tasksOfIdx.get(t.idx) ?? [];
    const s = v.submits.get(t.idx);
    if (rows.length > 1) problems.tasks.push(`#${t.idx}: one submit made ${rows.length} tasks (${rows.map((r) => r.id).join(', ')})`);
    if (!s) problems.tasks.push(`#${t.idx}: never submitted`);
    else if (s.kind === 'ok' && rows[0]?.id !== s.taskId) problems.tasks.push(`#${t.idx}: answered ${s.taskId}, but the database has ${rows[0]?.id ?? 'no task'}`);
    else if (s.kind === 'lost' && rows.length > 0) recovered++;
  }
  const apiById = new Map(v.settled.tasks.map((t) => [t.id, t]));
  for (const t of tasks) {
    const api = apiById.get(t.id);
    if (!api) problems.tasks.push(`task ${t.id}: in the database, missing from GET /v1/tasks`);
    else if (api.status !== t.status) problems.tasks.push(`task ${t.id}: API says ${api.status}, database ${t.status}`);
  }
  for (const id of apiById.keys()) if (!tasks.some((t) => t.id === id)) problems.tasks.push(`task ${id}: listed by the API, not in the database`);

  // ── ledger: per task charged + refunded = reserved (API and ledger), the right charge, the balance ──
  for (const a of v.settled.tasks) {
    const u = a.usage;
    if (TERMINAL.has(a.status) && micros(u.charged_usd) + micros(u.refunded_usd) !== micros(u.reserved_usd)) {
      problems.ledger.push(`task ${a.id} (API): charged ${u.charged_usd} + refunded ${u.refunded_usd} ≠ reserved ${u.reserved_usd}`);
    }
  }
  let chargedTotal = 0;
  for (const t of tasks) {
    const sums = totals.get(t.id) ?? { credit: 0, hold: 0, charge: 0, refund: 0 };
    chargedTotal += sums.charge;
    const bad = (what: string) => problems.ledger.push(`task ${t.id} (#${idxOfTask.get(t.id)}, ${t.status}): ${what}`);
    if (sums.hold !== t.reservedMicros) bad(`holds ${sums.hold} ≠ reserved ${t.reservedMicros}`);
    if (sums.charge !== t.chargedMicros) bad(`ledger charges ${sums.charge} ≠ charged ${t.chargedMicros}`);
    if (sums.refund !== t.refundedMicros) bad(`ledger refunds ${sums.refund} ≠ refunded ${t.refundedMicros}`);
    if (t.chargedMicros > t.reservedMicros) bad(`charged ${t.chargedMicros} > reserved ${t.reservedMicros}`);
    if (TERMINAL.has(t.status) && t.chargedMicros + t.refundedMicros !== t.reservedMicros) bad(`charged ${t.chargedMicros} + refunded ${t.refundedMicros} ≠ reserved ${t.reservedMicros}`);
    if (t.status !== 'completed' && t.chargedMicros !== 0) bad(`charged ${t.chargedMicros} for nothing`);
    if (t.status === 'completed') {
      const done = (attemptsOf.get(t.id) ?? []).filter((a) => a.status === 'completed');
      const up = done.length === 1 && done[0]!.upstreamId ? v.upstreams.creates.get(`${done[0]!.providerId} ${done[0]!.upstreamId}`) : undefined;
      if (!up) bad(`${done.length} completed attempts, upstream task ${up ? 'found' : 'not found'}`);
      else {
        const produced = up.task.fate.outcome === 'complete' ? (up.task.fate.durationS ?? 5) : 0;
        const expected = Math.min(Math.round(produced), t.billableUnits) * t.unitPriceMicros;
        if (t.chargedMicros !== expected) bad(`charged ${t.chargedMicros}, expected ${expected} (${produced} s produced at ${t.unitPriceMicros}/s)`);
        if (t.unitPriceMicros !== done[0]!.unitCostMicros) bad(`unit price ${t.unitPriceMicros} ≠ ${done[0]!.providerId}'s ${done[0]!.unitCostMicros}`);
      }
    }
  }
  if (keyBalance !== ledgerBalance) problems.ledger.push(`key balance ${keyBalance} ≠ sum of its ledger entries ${ledgerBalance}`);
  const allEnded = tasks.every((t) => TERMINAL.has(t.status));
  if (allEnded && keyBalance !== v.initialBalanceMicros - chargedTotal) problems.ledger.push(`key balance ${keyBalance} ≠ initial ${v.initialBalanceMicros} − charged ${chargedTotal}`);
  if (v.apiBalanceUsd === null || micros(v.apiBalanceUsd) !== keyBalance) problems.ledger.push(`GET /admin/keys balance ${v.apiBalanceUsd} ≠ database ${keyBalance}`);

  // ── creates: every upstream task belongs to exactly one recorded attempt, except `unknown` ones ──
  const recorded = new Map<string, AttemptRow>();
  const unknownAllowance = new Map<string, number>();
  for (const t of tasks) {
    for (const a of attemptsOf.get(t.id) ?? []) {
      if (a.upstreamId === null) {
        if (a.status === 'unknown') unknownAllowance.set(`${a.providerId} ${t.id}`, (unknownAllowance.get(`${a.providerId} ${t.id}`) ?? 0) + 1);
        continue;
      }
      const k = `${a.providerId} ${a.upstreamId}`;
      const other = recorded.get(k);
      if (other) problems.creates.push(`upstream task ${k} recorded by two attempts (${other.id}, ${a.id})`);
      recorded.set(k, a);
      const up = v.upstreams.creates.get(k);
      if (!up) problems.creates.push(`attempt ${a.id} of ${t.id}: upstream id ${k} was never created upstream`);
      else if (up.idx !== idxOfTask.get(t.id)) problems.creates.push(`attempt ${a.id} of ${t.id} (#${idxOfTask.get(t.id)}): upstream task ${k} was created for #${up.idx}`);
    }
  }
  const byProvider = new Map<string, { creates: number; recorded: number; orphans: number }>();
  for (const [k, up] of v.upstreams.creates) {
    const p = byProvider.get(up.providerId) ?? { creates: 0, recorded: 0, orphans: 0 };
    p.creates++;
    byProvider.set(up.providerId, p);
    if (recorded.has(k)) {
      p.recorded++;
      continue;
    }
    p.orphans++;
    const owner = tasksOfIdx.get(up.idx)?.[0];
    const slot = owner ? `${up.providerId} ${owner.id}` : '';
    const left = unknownAllowance.get(slot) ?? 0;
    if (left > 0) unknownAllowance.set(slot, left - 1);
    else problems.creates.push(`upstream task ${k} (#${up.idx}, task ${owner?.id ?? 'none'}): created with no attempt recorded 'unknown' to own it — a second create (attempts ${describe(owner ? attemptsOf.get(owner.id) : undefined)})`);
  }
  for (const { provider } of v.upstreams.emulators) {
    const p = byProvider.get(provider.id) ?? { creates: 0, recorded: 0, orphans: 0 };
    const stats = v.upstreamStats.get(provider.id);
    if (stats !== p.creates) problems.creates.push(`${provider.id}: /__emulator/stats says ${stats} tasks created, the drill saw ${p.creates}`);
    notes.push(`${provider.id}: ${p.creates} upstream tasks = ${p.recorded} recorded + ${p.orphans} behind 'unknown' attempts`);
  }
  for (const t of tasks.filter((t) => t.status === 'cancelled')) {
    const last = (attemptsOf.get(t.id) ?? []).at(-1);
    const up = last?.upstreamId ? v.upstreams.creates.get(`${last.providerId} ${last.upstreamId}`) : undefined;
    if (!up?.task.cancelled) problems.creates.push(`task ${t.id}: cancelled and refunded, but its upstream task ${last?.upstreamId ?? '?'} was not cancelled`);
  }

  // ── callbacks: each owed one delivered at least once, one webhook-id per task event, signed ──
  const receiptsOf = new Map<number, Receipt[]>();
  for (const r of v.upstreams.receiver.receipts) receiptsOf.set(r.idx, [...(receiptsOf.get(r.idx) ?? []), r]);
  const rowsOf = new Map<string, typeof deliveryRows>();
  for (const d of deliveryRows) rowsOf.set(d.taskId, [...(rowsOf.get(d.taskId) ?? []), d]);
  let missing = 0;
  let repeated = 0;
  for (const t of tasks) {
    const idx = idxOfTask.get(t.id);
    if (idx === undefined) continue;
    const got = receiptsOf.get(idx) ?? [];
    receiptsOf.delete(idx);
    const rows = rowsOf.get(t.id) ?? [];
    const bad = (what: string) => problems.callbacks.push(`task ${t.id} (#${idx}, ${t.status}): ${what}`);
    if (!t.callbackUrl) {
      if (got.length || rows.length) bad(`no callback_url, yet ${got.length} deliveries and ${rows.length} outbox rows`);
      continue;
    }
    if (!TERMINAL.has(t.status)) continue;
    const want = webhookIdOf(t.id, t.status);
    const ids = [...new Set(got.map((r) => r.webhookId))];
    if (ids.some((id) => id !== want)) bad(`webhook-ids ${ids.join(', ')}; expected only ${want}`);
    if (got.some((r) => !r.signatureOk)) bad(`${got.filter((r) => !r.signatureOk).length} deliveries with a bad signature`);
    if (got.some((r) => r.taskId !== t.id || r.taskStatus !== t.status)) bad(`a payload says ${got.map((r) => `${r.taskId}/${r.taskStatus}`).join(', ')}`);
    const ok = got.filter((r) => r.answered === 200).length;
    if (ok === 0) {
      missing++;
      bad(`no successful delivery (${got.length} tries; outbox ${rows.map((d) => `${d.id} ${d.status} ×${d.attempts}`).join(', ') || 'empty'})`);
    }
    if (ok > 1) repeated++;
    if (rows.length !== 1 || rows[0]!.id !== want || rows[0]!.status !== 'delivered') bad(`outbox rows ${rows.map((d) => `${d.id} ${d.status}`).join(', ') || 'none'}`);
  }
  for (const [idx, got] of receiptsOf) problems.callbacks.push(`#${idx}: ${got.length} callbacks for a task the database does not have`);
  if (repeated) notes.push(`${repeated} callbacks delivered more than once (a kill between the 200 and its record)`);

  const status: Record<string, number> = {};
  for (const t of tasks) status[t.status] = (status[t.status] ?? 0) + 1;
  const matrix = new Map<string, Record<string, number>>();
  for (const t of tasks) {
    const fate = v.plan[idxOfTask.get(t.id) ?? -1]?.fate ?? '?';
    const row = matrix.get(fate) ?? {};
    row[t.status] = (row[t.status] ?? 0) + 1;
    matrix.set(fate, row);
  }
  notes.push(`fate → end: ${[...matrix].map(([f, r]) => `${f} ${JSON.stringify(r)}`).join('; ')}`);
  const expected: Record<string, string[]> = { complete: ['completed'], failover: ['completed'], fail: ['failed'], reject: ['failed'], cancel: ['cancelled', 'completed'] };
  for (const t of tasks) {
    const fate = v.plan[idxOfTask.get(t.id) ?? -1]?.fate ?? '?';
    if (expected[fate]?.includes(t.status) === false) {
      notes.push(`unplanned end: ${t.id} (#${idxOfTask.get(t.id)}, ${fate}) ${t.status} ${t.errorCode ?? ''}: ${t.errorMessage ?? ''}; attempts ${describe(attemptsOf.get(t.id))}`);
    }
  }
  return {
    problems,
    notes,
    status,
    created: tasks.length,
    recovered,
    deliveries: v.upstreams.receiver.receipts.length,
    missingCallbacks: missing,
    duplicateCallbacks: repeated,
    peakInFlight: peak(tasks),
  };
}

function describe(attempts: AttemptRow[] | undefined): string {
  return (attempts ?? []).map((a) => `${a.seq}:${a.providerId}:${a.status}${a.upstreamId ? '' : ':no-id'}${a.errorCode ? `(${a.errorCode})` : ''}`).join(' ') || 'none';
}

/** Most tasks open at once (created, not yet finished). */
function peak(tasks: TaskRow[]): number {
  const events = tasks.flatMap((t) => [[t.createdAt, 1] as const, [t.finishedAt ?? Infinity, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (open += d));
  return max;
}
