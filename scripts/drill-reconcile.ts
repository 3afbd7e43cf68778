/**
 * The drill's last check (issue 11 #3): each provider's bill, as its emulator keeps it
 * (`GET /__emulator/statement`, CSV), reconciled by the gateway (`POST /admin/reconciliation`, the
 * same call `reelroute reconcile` makes). No line may be mismatched, and the difference must be
 * fully explained, line by line, by what the drill saw upstream (it owns the emulators):
 * - `missing_from_statement` with `upstream_id: null` is a create whose answer was lost (attempt
 *   `unknown`, quoted at what it might cost). It pairs with the upstream task the drill saw created
 *   for that task at that provider that no attempt recorded: billed → its `unknown_to_us` line (the
 *   id we never learned); failed or cancelled upstream → billed nothing; never created → nothing.
 * - `missing_from_statement` with an id: only an `unknown` attempt whose upstream task was not billed.
 * - every `unknown_to_us` line is such a paired upstream task.
 * The unexplained remainder (difference − Σ paired bills + Σ quotes) must be exactly 0; when every
 * lost create was billed at its quote, `difference_usd` itself is 0.
 */
import { taskIndexes } from './drill-db.ts';
import { call } from './drill-load.ts';
import type { SettleResult } from './drill-settle.ts';
import type { UpstreamCreate, Upstreams } from './drill-upstreams.ts';

export interface Reconciliation {
  provider: string;
  matched: number;
  statementLines: number;
  oursUsd: number;
  theirsUsd: number;
  differenceUsd: number;
  /** What no statement line explains (must be 0). */
  unexplainedUsd: number;
  lostCreates: number;
  unknownToUs: number;
  /** One line for the drill's output. */
  line: string;
  problems: string[];
}

interface Answer {
  statement_lines: number;
  matched: number;
  ours_total_usd: number;
  theirs_total_usd: number;
  difference_usd: number;
  mismatched: Array<{ upstream_id: string; task_id: string; ours_usd: number; theirs_usd: number }>;
  missing_from_statement: Array<{ upstream_id: string | null; task_id: string; ours_usd: number; attempt_status?: string }>;
  unknown_to_us: Array<{ upstream_id: string; theirs_usd: number }>;
}

const micros = (usd: number): number => Math.round(usd * 1e6);

/**
 * Reconcile every emulated provider over the UTC days `from`..`to` (YYYY-MM-DD). Task ids map to drill
 * indexes through each task's stored request (the API tells them only for answered submits or
 * callback URLs, and a lost create's task may have neither), read beside the running gateways.
 */
export async function reconcileAll(base: string, adminKey: string, upstreams: Upstreams, settled: SettleResult, location: string, from: string, to: string): Promise<Reconciliation[]> {
  const idxOf = await taskIndexes(location);
  const recorded = new Set(settled.tasks.flatMap((t) => t.attempts.flatMap((a) => (a.upstream_id === null ? [] : [`${a.provider} ${a.upstream_id}`]))));
  const out: Reconciliation[] = [];
  for (const { provider, emulator } of upstreams.emulators) {
    const problems: string[] = [];
    const stmt = await fetch(`${emulator.url}/__emulator/statement?from=${from}&to=${to}`, { signal: AbortSignal.timeout(10_000) });
    const csv = await stmt.text();
    if (stmt.status !== 200) throw new Error(`${provider.id}: GET /__emulator/statement answered ${stmt.status}: ${csv.slice(0, 200)}`);
    const amountColumn = csv.slice(0, csv.indexOf('\r\n')).split(',')[1] ?? 'amount_usd';
    const res = await call(base, 'POST', `/admin/reconciliation?provider=${provider.id}&from=${from}&to=${to}&amount_column=${amountColumn}`, adminKey, undefined, 30_000, { 'content-type': 'text/csv' }, csv);
    if (res.status !== 200) throw new Error(`${provider.id}: POST /admin/reconciliation answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
    const r = res.body as Answer;

    for (const m of r.mismatched) problems.push(`mismatched ${m.upstream_id} (task ${m.task_id}): ours ${m.ours_usd}, theirs ${m.theirs_usd}`);
    const unknown = new Map(r.unknown_to_us.map((u) => [u.upstream_id, micros(u.theirs_usd)]));
    /** Upstream tasks no attempt recorded, by drill task index: what lost creates left upstream. */
    const orphans = new Map<number, UpstreamCreate[]>();
    for (const c of upstreams.creates.values()) {
      if (c.providerId !== provider.id || recorded.has(`${c.providerId} ${c.upstreamId}`)) continue;
      orphans.set(c.idx, [...(orphans.get(c.idx) ?? []), c]);
    }
    const paired = new Set<string>();
    let quoted = 0;
    let billed = 0;
    const ends = { billed: 0, unbilled: 0, never_created: 0 };
    const lost = r.missing_from_statement.filter((m) => m.upstream_id === null);
    for (const m of lost) {
      quoted += micros(m.ours_usd);
      const idx = idxOf.get(m.task_id);
      const orphan = idx === undefined ? undefined : orphans.get(idx)?.shift();
      if (!orphan) {
        ends.never_created++;
        continue;
      }
      paired.add(orphan.upstreamId);
      const bill = unknown.get(orphan.upstreamId);
      if (bill !== undefined) {
        billed += bill;
        ends.billed++;
      } else {
        const phase = emulator.state.phase(orphan.task);
        if (phase === 'failed' || phase === 'cancelled') ends.unbilled++;
        else problems.push(`lost create of task ${m.task_id}: its upstream task ${orphan.upstreamId} is ${phase} and not on the statement`);
      }
    }
    for (const m of r.missing_from_statement.filter((m) => m.upstream_id !== null)) {
      const up = upstreams.creates.get(`${provider.id} ${m.upstream_id}`);
      const phase = up ? emulator.state.phase(up.task) : 'never created';
      if (m.attempt_status !== 'unknown' || !['failed', 'cancelled', 'never created'].includes(phase)) problems.push(`missing from the statement: ${m.upstream_id} (task ${m.task_id}, ${m.attempt_status ?? '?'}): ours ${m.ours_usd}`);
      else {
        quoted += micros(m.ours_usd);
        ends.unbilled++;
      }
    }
    for (const u of r.unknown_to_us) if (!paired.has(u.upstream_id)) problems.push(`unknown to us: ${u.upstream_id} (${u.theirs_usd} USD) is no upstream task of a lost create`);
    const unexplained = micros(r.difference_usd) - (billed - quoted);
    if (unexplained !== 0) problems.push(`difference ${r.difference_usd} USD (theirs ${r.theirs_total_usd}, ours ${r.ours_total_usd}); unexplained ${unexplained / 1e6} USD`);
    out.push({
      provider: provider.id,
      matched: r.matched,
      statementLines: r.statement_lines,
      oursUsd: r.ours_total_usd,
      theirsUsd: r.theirs_total_usd,
      differenceUsd: r.difference_usd,
      unexplainedUsd: unexplained / 1e6,
      lostCreates: lost.length,
      unknownToUs: r.unknown_to_us.length,
      line:
        `reconcile ${provider.id} (${amountColumn}): ${r.statement_lines} statement lines, ${r.matched} matched, ${r.mismatched.length} mismatched, ` +
        `theirs ${r.theirs_total_usd} − ours ${r.ours_total_usd} = difference ${r.difference_usd} USD` +
        (lost.length || r.missing_from_statement.length || r.unknown_to_us.length
          ? ` = lost creates billed ${billed / 1e6} − quoted ${quoted / 1e6} (${r.missing_from_statement.length} missing: ${ends.billed} billed under ${r.unknown_to_us.length} ids unknown to us, ${ends.unbilled} failed upstream, ${ends.never_created} never created)`
          : '') +
        `, unexplained ${unexplained / 1e6}${problems.length ? ' — NOT RECONCILED' : ''}`,
      problems,
    });
  }
  return out;
}
