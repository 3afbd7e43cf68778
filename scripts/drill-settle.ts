/**
 * Waiting for the end, through the API only: list the key's tasks (GET /v1/tasks, paged) until every
 * one is terminal and every callback it owes has reached the receiver, or the time is up. Tasks
 * whose submit answer was lost are found in that list; their callback URL (hence their drill index)
 * comes from GET /v1/tasks/{id}/callbacks.
 */
import { call, sleep, type Gate, type SubmitOutcome } from './drill-load.ts';
import type { PlannedTask } from './drill-plan.ts';
import type { Receiver } from './drill-upstreams.ts';

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export interface ListedTask {
  id: string;
  status: string;
  usage: { reserved_usd: number; charged_usd: number; refunded_usd: number };
  attempts: Array<{ provider: string; status: string; upstream_id: string | null }>;
  results?: string[] | null;
}

export interface SettleResult {
  tasks: ListedTask[];
  /** Task id → drill index where the API tells it (submit answer, or the callback URL). */
  idxOf: Map<string, number>;
  timedOut: boolean;
  waitedMs: number;
  nonTerminal: number;
  callbacksOwed: number;
}

export const webhookIdOf = (taskId: string, status: string): string => `msg_${taskId}_${status}`;

/** Every task of the key, newest first, through the cursor. */
export async function listAll(base: string, key: string): Promise<ListedTask[]> {
  const out: ListedTask[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const res = await call(base, 'GET', `/v1/tasks?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`, key);
    if (res.status !== 200) throw new Error(`GET /v1/tasks answered ${res.status}`);
    const data = res.body.data as ListedTask[];
    out.push(...data);
    if (!res.body.has_more || data.length === 0) break;
    after = data[data.length - 1]!.id;
  }
  return out;
}

export interface SettleOptions {
  gate: Gate;
  key: string;
  plan: readonly PlannedTask[];
  submits: ReadonlyMap<number, SubmitOutcome>;
  receiver: Receiver;
  timeoutMs: number;
  log: (line: string) => void;
}

export async function settle(o: SettleOptions): Promise<SettleResult> {
  const started = Date.now();
  const idxOf = new Map<string, number>();
  for (const [idx, s] of o.submits) if (s.kind === 'ok') idxOf.set(s.taskId, idx);
  /** Tasks not known from a submit answer whose callbacks were looked up: idx, or null (none). */
  const looked = new Map<string, number | null>();
  let lastLog = started;
  let result: SettleResult = { tasks: [], idxOf, timedOut: false, waitedMs: 0, nonTerminal: 0, callbacksOwed: 0 };
  for (;;) {
    let tasks: ListedTask[] | null = null;
    try {
      const base = await o.gate.wait(10_000);
      tasks = await listAll(base, o.key);
      for (const t of tasks) {
        if (idxOf.has(t.id) || looked.has(t.id) || !TERMINAL.has(t.status)) continue;
        const res = await call(base, 'GET', `/v1/tasks/${t.id}/callbacks`, o.key);
        const url = String(res.body?.data?.[0]?.url ?? '');
        const m = /\/cb\/(\d+)$/.exec(url);
        looked.set(t.id, m ? Number(m[1]) : null);
        if (m) idxOf.set(t.id, Number(m[1]));
      }
    } catch (err) {
      o.log(`settle: listing failed (${(err as Error).message}); trying again`);
    }
    if (tasks) {
      const nonTerminal = tasks.filter((t) => !TERMINAL.has(t.status)).length;
      const callbacksOwed = tasks.filter((t) => {
        const idx = idxOf.get(t.id);
        if (!TERMINAL.has(t.status) || idx === undefined || !o.plan[idx]?.callback) return false;
        return !o.receiver.delivered.get(idx)?.has(webhookIdOf(t.id, t.status));
      }).length;
      result = { tasks, idxOf, timedOut: false, waitedMs: Date.now() - started, nonTerminal, callbacksOwed };
      if (nonTerminal === 0 && callbacksOwed === 0) return result;
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        o.log(`settle: ${nonTerminal} tasks not ended, ${callbacksOwed} callbacks owed after ${Math.round((Date.now() - started) / 1000)} s`);
      }
    }
    if (Date.now() - started > o.timeoutMs) return { ...result, timedOut: true, waitedMs: Date.now() - started };
    await sleep(1_000);
  }
}
