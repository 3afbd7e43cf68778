/**
 * The drill's load: paced submits (bounded concurrency) with callbacks and queued create faults,
 * cancels for the cancel fates, and the killer that SIGKILLs and restarts the gateway at planned
 * moments. Requests wait at a gate while the gateway is down; every loop is bounded.
 */
import Database from 'better-sqlite3';
import type { GatewayProcess } from './drill-gateway.ts';
import type { PlannedTask } from './drill-plan.ts';
import { bodyOf, type Upstreams } from './drill-upstreams.ts';
import { startHalfUpload, tempEntries, type Upload } from './drill-files.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where the gateway is now; callers wait (bounded) while it is down. */
export class Gate {
  private url: string | null = null;
  private waiters: Array<(url: string) => void> = [];

  open(url: string): void {
    this.url = url;
    for (const w of this.waiters.splice(0)) w(url);
  }

  close(): void {
    this.url = null;
  }

  async wait(timeoutMs = 60_000): Promise<string> {
    if (this.url) return this.url;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('gateway stayed down')), timeoutMs);
      this.waiters.push((url) => {
        clearTimeout(timer);
        resolve(url);
      });
    });
  }
}

export interface ApiAnswer {
  status: number;
  body: any;
}

/**
 * One JSON call with a timeout; throws on network errors (the caller decides what they mean).
 * `raw` is sent as the body as it is (with the caller's content-type) instead of JSON.
 */
export async function call(base: string, method: string, path: string, key: string, body?: unknown, timeoutMs = 20_000, headers: Record<string, string> = {}, raw?: string): Promise<ApiAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

export type SubmitOutcome =
  | { kind: 'ok'; taskId: string; ms: number; retried?: boolean }
  | { kind: 'http_error'; status: number; code: string; ms: number }
  /** The request died (gateway killed or down): the task may or may not exist. */
  | { kind: 'lost'; error: string; ms: number };

export type CancelOutcome = 'cancelled' | 'refused' | 'gave_up';

export interface LoadResult {
  submits: Map<number, SubmitOutcome>;
  cancels: Map<number, CancelOutcome>;
  /**
   * Per kill: ms after the load started, submits in flight at that moment, and attempts the dead
   * process left `submitting` (their create was on its way: written intent, no answer).
   */
  kills: Array<{ atMs: number; submitsInFlight: number; submittingAttempts: number; downMs: number; halfUpload: boolean; heldMirrors: number }>;
  /** Upstream ids whose output the gateway was mirroring when a kill struck (`${providerId} ${upstreamId}`). */
  midMirror: Set<string>;
  faultsQueued: number;
  /** Lost submits sent again with their Idempotency-Key. */
  retried: number;
  problems: string[];
}

export interface LoadOptions {
  plan: PlannedTask[];
  key: string;
  gate: Gate;
  gateway: GatewayProcess;
  upstreams: Upstreams;
  /** Submits spread over this window, ms. */
  windowMs: number;
  concurrency: number;
  killAt: Array<{ afterSubmits: number; jitterMs: number }>;
  /**
   * Kill only between submits (waits up to 3 s for none to be in flight). A kill that catches a
   * create leaves its attempt `submitting` until the reconcile deadline (provider timeout + 30 s),
   * too long for a quick test; the full drill kills anywhere.
   */
  killBetweenSubmits?: boolean;
  /**
   * The first this many kills aim at a create on its way upstream: each emulator's next create hangs
   * (1.5 s, within the 5 s provider timeout) and the kill waits for a submit held that long.
   */
  midCreateKills?: number;
  /**
   * The next this many kills (after the mid-create ones) strike mid-mirror: output downloads are held
   * at the relays and the kill waits (bounded) until the gateway is waiting on one.
   */
  midMirrorKills?: number;
  /** Uploaded reference clips by length (tasks planned with `upload` use them). */
  uploads: ReadonlyMap<number, Upload>;
  /** The gateway's files folder (its temp folder must be empty after every restart). */
  filesDir: string;
  log: (line: string) => void;
}

/** How long a mid-create kill's hung creates take upstream, ms. */
const HANG_MS = 1_500;

/** Attempts left `submitting` in the database of a stopped gateway. */
function submittingAttempts(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT count(*) FROM "attempts" WHERE "status" = 'submitting'`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** Queue a create fault through the control API, as a drill in another process would: the next create there gets it. */
async function queueFault(emulatorUrl: string, fault: unknown, result: LoadResult): Promise<void> {
  const res = await fetch(`${emulatorUrl}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ submit: [fault] }) });
  if (res.ok) result.faultsQueued++;
  else result.problems.push(`emulator control API answered ${res.status}`);
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { submits: new Map(), cancels: new Map(), kills: [], midMirror: new Set(), faultsQueued: 0, retried: 0, problems: [] };
  const started = Date.now();
  let inFlight = 0;
  /** Start times of the submits in flight. */
  const inFlightSince = new Set<{ t0: number }>();
  let submitted = 0;
  let submitsDone = false;
  const pending: Promise<void>[] = [];

  const cancelOne = async (t: PlannedTask, taskId: string): Promise<void> => {
    await sleep(t.cancelDelayMs);
    for (let i = 0; i < 8; i++) {
      try {
        const res = await call(await o.gate.wait(), 'POST', `/v1/tasks/${taskId}/cancel`, o.key);
        if (res.status === 200) return void result.cancels.set(t.idx, 'cancelled');
        const msg = String(res.body?.error?.message ?? '');
        // Not yet cancellable (being sent, or no upstream id yet): ask again shortly.
        if (!/right now|no upstream task yet/.test(msg)) return void result.cancels.set(t.idx, 'refused');
      } catch {
        /* gateway down or killed mid-request: try again */
      }
      await sleep(250);
    }
    result.cancels.set(t.idx, 'gave_up');
  };

  const sendOnce = async (t: PlannedTask): Promise<SubmitOutcome> => {
    const t0 = Date.now();
    try {
      const headers: Record<string, string> = t.idempotent ? { 'idempotency-key': `drill-${t.idx}` } : {};
      const res = await call(await o.gate.wait(), 'POST', '/v1/videos/generations', o.key, bodyOf(t, o.upstreams, o.uploads), 20_000, headers);
      const ms = Date.now() - t0;
      return res.status === 200 ? { kind: 'ok', taskId: String(res.body.id), ms } : { kind: 'http_error', status: res.status, code: String(res.body?.error?.code ?? res.body), ms };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { kind: 'lost', error: e.cause?.code ?? e.name, ms: Date.now() - t0 };
    }
  };

  const submitOne = async (t: PlannedTask): Promise<SubmitOutcome> => {
    let outcome = await sendOnce(t);
    if (outcome.kind === 'lost' && t.idempotent) {
      // Same body, same key, after the restart: the gateway must answer with the one task (or make it).
      const retry = await sendOnce(t);
      outcome = retry.kind === 'ok' ? { ...retry, retried: true } : retry;
      result.retried++;
    }
    result.submits.set(t.idx, outcome);
    if (t.submitFault) await queueFault(o.upstreams.emulators[t.submitFault.provider]!.emulator.url, t.submitFault.fault, result);
    return outcome;
  };

  const killer = (async () => {
    for (const [i, at] of o.killAt.entries()) {
      // Bounded: the submit loop always moves on (or gives up), and so does this wait.
      while (submitted < at.afterSubmits && !submitsDone) await sleep(20);
      await sleep(at.jitterMs);
      // Every kill also cuts an upload short: its bytes are in the temp folder when the process dies.
      let half: Awaited<ReturnType<typeof startHalfUpload>> | null = null;
      try {
        half = await startHalfUpload(await o.gate.wait(), o.key, o.filesDir);
      } catch (err) {
        result.problems.push(`kill ${i + 1}: half upload not started: ${(err as Error).message}`);
      }
      const midMirror = i >= (o.midCreateKills ?? 0) && i < (o.midCreateKills ?? 0) + (o.midMirrorKills ?? 0);
      if (midMirror) {
        for (const e of o.upstreams.emulators) e.relay.hold = true;
        const held = () => o.upstreams.emulators.some((e) => e.relay.held.size > 0);
        for (let waited = 0; !held() && waited < 20_000; waited += 10) await sleep(10);
        if (!held()) result.problems.push(`kill ${i + 1}: no output download began within 20 s (not mid-mirror)`);
      }
      if (i < (o.midCreateKills ?? 0)) {
        await Promise.all(o.upstreams.emulators.map((e) => queueFault(e.emulator.url, { kind: 'hang', ms: HANG_MS }, result)));
        // A submit held for over 300 ms is one whose create hangs upstream: its attempt is `submitting`.
        const held = () => [...inFlightSince].some((s) => Date.now() - s.t0 > 300);
        for (let waited = 0; !held() && waited < 5_000; waited += 5) await sleep(5);
      } else {
        for (let waited = 0; o.killBetweenSubmits && inFlight > 0 && waited < 3_000; waited += 5) await sleep(5);
      }
      const submitsInFlight = inFlight;
      o.gate.close();
      const downAt = Date.now();
      await o.gateway.kill();
      half?.req.destroy();
      let heldMirrors = 0;
      for (const e of o.upstreams.emulators) {
        for (const id of e.relay.held) result.midMirror.add(`${e.provider.id} ${id}`);
        heldMirrors += e.relay.held.size;
        e.relay.hold = false;
        e.relay.held.clear();
      }
      const submitting = submittingAttempts(o.gateway.dbPath);
      o.log(`kill ${i + 1} at ${((downAt - started) / 1000).toFixed(1)} s, after ${submitted} submits, ${submitsInFlight} in flight, ${submitting} attempts submitting`);
      try {
        o.gate.open(await o.gateway.start());
      } catch (err) {
        result.problems.push(`restart after kill ${i + 1} failed: ${(err as Error).message}`);
        return;
      }
      // The restarted store sweeps what dead uploads left in its temp folder before it listens.
      const stray = tempEntries(o.filesDir);
      if (stray.length) result.problems.push(`after kill ${i + 1}: ${stray.length} stray temp files in the files folder (${stray.slice(0, 3).join(', ')})`);
      if (half && !half.seen) result.problems.push(`kill ${i + 1}: the half upload never reached the temp folder`);
      result.kills.push({ atMs: downAt - started, submitsInFlight, submittingAttempts: submitting, downMs: Date.now() - downAt, halfUpload: half?.seen ?? false, heldMirrors });
    }
  })();

  // Paced submits: task i is due at i × interval of load time; downtime pauses the schedule.
  const interval = o.windowMs / Math.max(1, o.plan.length);
  let slots = o.concurrency;
  const freed: Array<() => void> = [];
  for (const t of o.plan) {
    await sleep(interval);
    try {
      await o.gate.wait();
    } catch (err) {
      result.problems.push(`submits stopped at task ${t.idx}: ${(err as Error).message}`);
      break;
    }
    while (slots === 0) await new Promise<void>((r) => freed.push(r));
    slots--;
    inFlight++;
    submitted++;
    pending.push(
      (async () => {
        let outcome: SubmitOutcome;
        const since = { t0: Date.now() };
        inFlightSince.add(since);
        try {
          outcome = await submitOne(t);
        } finally {
          inFlightSince.delete(since);
          inFlight--;
          slots++;
          freed.shift()?.();
        }
        if (t.fate === 'cancel' && outcome.kind === 'ok') await cancelOne(t, outcome.taskId);
      })(),
    );
  }
  submitsDone = true;
  await Promise.all(pending);
  await killer;
  return result;
}
