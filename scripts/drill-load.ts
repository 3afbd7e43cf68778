/**
 * The drill's load: paced submits (bounded concurrency) with callbacks and queued create faults,
 * cancels for the cancel fates, and the killer (drill-killer.ts) that SIGKILLs and restarts a gateway
 * at planned moments. Requests go round robin to the gateways that are up (one, or the replicas) and
 * wait at a gate while none is; every loop is bounded.
 */
import type { GatewayProcess } from './drill-gateway.ts';
import { queueFault, runKiller, type LoadState } from './drill-killer.ts';
import type { PlannedTask } from './drill-plan.ts';
import { bodyOf, type Upstreams } from './drill-upstreams.ts';
import type { Upload } from './drill-files.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Where the gateways are now: one slot per replica (one for the SQLite drill). `wait()` hands out the
 * replicas that are up in turn (round robin per request); callers wait (bounded) while all are down.
 */
export class Gate {
  private urls: Array<string | null> = [];
  private next = 0;
  private waiters: Array<(url: string) => void> = [];

  open(url: string, slot = 0): void {
    this.urls[slot] = url;
    for (const w of this.waiters.splice(0)) w(url);
  }

  close(slot = 0): void {
    this.urls[slot] = null;
  }

  /** The URL of replica `slot`, when it is up. */
  urlOf(slot: number): string | null {
    return this.urls[slot] ?? null;
  }

  /** Which replica a URL is (-1: none). */
  slotOf(url: string): number {
    return this.urls.indexOf(url);
  }

  /** The next replica that is up; `turn` false only waits for one, without taking a turn of the round robin. */
  async wait(timeoutMs = 60_000, turn = true): Promise<string> {
    for (let i = 0; i < this.urls.length; i++) {
      const at = (this.next + i) % this.urls.length;
      const url = this.urls[at];
      if (!url) continue;
      if (turn) this.next = at + 1;
      return url;
    }
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
  kills: Array<{ atMs: number; replica: number; submitsInFlight: number; submittingAttempts: number; downMs: number; halfUpload: boolean; heldMirrors: number }>;
  /** Upstream ids whose output the gateway was mirroring when a kill struck (`${providerId} ${upstreamId}`). */
  midMirror: Set<string>;
  faultsQueued: number;
  /** Lost submits sent again with their Idempotency-Key. */
  retried: number;
  /** Replicas: answers 409 idempotency_key_in_use to such a retry, each sent again a little later. */
  inUse: number;
  /** Replicas: half uploads a kill left in the shared temp folder (swept there only once an hour old). */
  tempLeft: number;
  problems: string[];
}

export interface LoadOptions {
  plan: PlannedTask[];
  key: string;
  gate: Gate;
  /** The gateway processes (one, or the replicas; gate slot i is gateways[i]). */
  gateways: GatewayProcess[];
  upstreams: Upstreams;
  /** Seeds the choice of victims among replicas. */
  seed?: number;
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
  /** The gateway's files folder (its temp folder must be empty after every restart; shared by replicas). */
  filesDir: string;
  log: (line: string) => void;
}

/** How often and how far apart a retry answered "in use" is sent again (replicas): past the 35 s create margin. */
const IN_USE_TRIES = 20;
const IN_USE_WAIT_MS = 2_500;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { submits: new Map(), cancels: new Map(), kills: [], midMirror: new Set(), faultsQueued: 0, retried: 0, inUse: 0, tempLeft: 0, problems: [] };
  const st: LoadState = { started: Date.now(), submitted: 0, submitsDone: false, inFlight: 0, inFlightSince: new Set() };
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

  const sendOnce = async (t: PlannedTask, since: { base?: string }): Promise<SubmitOutcome> => {
    const t0 = Date.now();
    try {
      const headers: Record<string, string> = t.idempotent ? { 'idempotency-key': `drill-${t.idx}` } : {};
      const base = await o.gate.wait();
      since.base = base;
      const res = await call(base, 'POST', '/v1/videos/generations', o.key, bodyOf(t, o.upstreams, o.uploads), 20_000, headers);
      const ms = Date.now() - t0;
      return res.status === 200 ? { kind: 'ok', taskId: String(res.body.id), ms } : { kind: 'http_error', status: res.status, code: String(res.body?.error?.code ?? res.body), ms };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { kind: 'lost', error: e.cause?.code ?? e.name, ms: Date.now() - t0 };
    }
  };

  const submitOne = async (t: PlannedTask, since: { base?: string }): Promise<SubmitOutcome> => {
    let outcome = await sendOnce(t, since);
    if (outcome.kind === 'lost' && t.idempotent) {
      // Same body, same key, after the restart (or at another replica): the gateway must answer with the one task (or make it).
      let retry = await sendOnce(t, since);
      // Replicas: the retry reaches a live replica at once, while the dead one's create may still be on
      // its way; the key answers "in use" until that create's deadline, so the client asks again later.
      for (let i = 0; o.gateways.length > 1 && i < IN_USE_TRIES && retry.kind === 'http_error' && retry.code === 'idempotency_key_in_use'; i++) {
        result.inUse++;
        await sleep(IN_USE_WAIT_MS);
        retry = await sendOnce(t, since);
      }
      outcome = retry.kind === 'ok' ? { ...retry, retried: true } : retry;
      result.retried++;
    }
    result.submits.set(t.idx, outcome);
    if (t.submitFault) await queueFault(o.upstreams.emulators[t.submitFault.provider]!.emulator.url, t.submitFault.fault, result);
    return outcome;
  };

  const killer = runKiller(o, st, result);

  // Paced submits: task i is due at i × interval of load time; downtime pauses the schedule.
  const interval = o.windowMs / Math.max(1, o.plan.length);
  let slots = o.concurrency;
  const freed: Array<() => void> = [];
  for (const t of o.plan) {
    await sleep(interval);
    try {
      await o.gate.wait(60_000, false);
    } catch (err) {
      result.problems.push(`submits stopped at task ${t.idx}: ${(err as Error).message}`);
      break;
    }
    while (slots === 0) await new Promise<void>((r) => freed.push(r));
    slots--;
    st.inFlight++;
    st.submitted++;
    pending.push(
      (async () => {
        let outcome: SubmitOutcome;
        const since: { t0: number; base?: string } = { t0: Date.now() };
        st.inFlightSince.add(since);
        try {
          outcome = await submitOne(t, since);
        } finally {
          st.inFlightSince.delete(since);
          st.inFlight--;
          slots++;
          freed.shift()?.();
        }
        if (t.fate === 'cancel' && outcome.kind === 'ok') await cancelOne(t, outcome.taskId);
      })(),
    );
  }
  st.submitsDone = true;
  await Promise.all(pending);
  await killer;
  return result;
}
