/** The drill's plan: every task's fate, media, callback and timing, from one seed (reproducible). */

export type FateKind = 'complete' | 'failover' | 'fail' | 'reject' | 'cancel';

export interface PlannedTask {
  idx: number;
  fate: FateKind;
  quality: '720p' | '1080p';
  /** Reference video length, seconds (the hold is for this many). */
  refS: number;
  /** Output length the upstream produces, seconds (the charge is for this many). */
  outS: number;
  /** Whether the upstream reports the duration (else the gateway reads the output's header). */
  reportDuration: boolean;
  callback: boolean;
  /** Sent with an Idempotency-Key; a submit lost with the process is then retried once with it. */
  idempotent: boolean;
  /** How many deliveries of each webhook-id the receiver answers 500 before 200. */
  failFirst: number;
  /** Delay after the submit answer before POST /cancel (cancel fates), ms. */
  cancelDelayMs: number;
  /** The reference video is one the key uploaded (`POST /v1/files`), not a URL of the media server. */
  upload: boolean;
  /** After this submit, queue a create fault on an emulator (none, a 5xx/429, or accept-then-reset). */
  submitFault: null | { provider: number; fault: { kind: 'status'; status: number } | { kind: 'accept_then_reset' } };
}

/** mulberry32: small, seedable, good enough for a drill. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FATE_WEIGHTS: Array<[FateKind, number]> = [
  ['complete', 0.55],
  ['failover', 0.15],
  ['fail', 0.1],
  ['reject', 0.05],
  ['cancel', 0.15],
];

function pick<T>(r: () => number, weighted: Array<[T, number]>): T {
  let x = r();
  for (const [v, w] of weighted) {
    if ((x -= w) < 0) return v;
  }
  return weighted[weighted.length - 1]![0];
}

export function makePlan(tasks: number, seed: number, providers: number): PlannedTask[] {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: tasks }, (_, idx) => {
    const refS = int(3, 10);
    const roll = r();
    return {
      idx,
      fate: pick(r, FATE_WEIGHTS),
      quality: r() < 0.8 ? '720p' : '1080p',
      refS,
      outS: Math.max(3, refS - int(0, 2)),
      reportDuration: r() < 0.8,
      callback: r() < 0.7,
      idempotent: r() < 0.5,
      failFirst: int(0, 2),
      cancelDelayMs: int(30, 600),
      upload: r() < 0.25,
      submitFault:
        roll < 0.03
          ? { provider: int(0, providers - 1), fault: { kind: 'status', status: [500, 503, 429][int(0, 2)]! } }
          : roll < 0.045
            ? { provider: int(0, providers - 1), fault: { kind: 'accept_then_reset' } }
            : null,
    };
  });
}

/**
 * Kill moments: after a random number of submits have started (spread over 5–95 % of the load, at
 * least a share apart), plus a random 0–400 ms, so kills fall across the load whatever its pace.
 */
export function killPoints(kills: number, seed: number, tasks: number): Array<{ afterSubmits: number; jitterMs: number }> {
  const r = rng(seed ^ 0x5bd1e995);
  const lo = Math.floor(tasks * 0.05);
  const span = Math.max(1, Math.floor(tasks * 0.9));
  const gap = Math.floor(span / (kills + 1) / 2);
  let points: number[] = [];
  for (let tries = 0; tries < 1_000; tries++) {
    points = Array.from({ length: kills }, () => lo + Math.floor(r() * span)).sort((a, b) => a - b);
    if (points.every((p, i) => i === 0 || p - points[i - 1]! >= gap)) break;
  }
  return points.map((afterSubmits) => ({ afterSubmits, jitterMs: Math.floor(r() * 400) }));
}
