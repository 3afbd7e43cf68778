/**
 * Learns a remote video's duration from its MP4/MOV header with a few HTTP range reads, so the
 * gateway can validate and quote a task before any money moves without downloading the video.
 */
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { ContainerHeaderReader } from './container.ts';
import type { ParseStep } from './container.ts';
import { consumeBody, openRange, ProbeError } from './http-range.ts';
import type { FetchContext, RangeAnswer, Validators } from './http-range.ts';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DEFAULT_PROBE_LIMITS, ProbeGate, type Admission, type ProbeLimits } from './probe-gate.ts';

/** Outcome of a probe; failures carry a human-readable reason and are never thrown. */
export type ProbeResult = { ok: true; durationS: number } | { ok: false; reason: string; busy?: true };
/** A probe that also read the first video track's size, when the header gives it (element video rule). */
export type VideoProbeResult = { ok: true; durationS: number; width?: number; height?: number } | { ok: false; reason: string; busy?: true };

/** Reads media durations from remote container headers. */
export interface MediaProbe {
  /** Duration in seconds of the MP4/MOV at `url`, from its `moov` header. Never rejects. */
  duration(url: string): Promise<ProbeResult>;
  /** Duration and picture size; same cache and bounds as `duration`. */
  video?(url: string): Promise<VideoProbeResult>;
}

/** Options for {@link createMediaProbe}. */
export interface MediaProbeOptions {
  /** Budget for one whole probe (all requests together), ms. Default 5000. */
  timeoutMs?: number;
  /** Most bytes read from one URL per probe. Default 4 MiB. */
  maxBytes?: number;
  /** How long a successful probe is trusted without asking the server again, ms. Default 10 min. */
  cacheTtlMs?: number;
  /** Most URLs remembered (least recently used dropped first). Default 1000. */
  cacheSize?: number;
  /** undici dispatcher for all requests; default a shared keep-alive Agent. */
  dispatcher?: Dispatcher;
  /** Clock for cache expiry, ms. Default Date.now. */
  now?: () => number;
  /** Called with every URL before it is fetched (redirect hops included); throwing refuses it. */
  guard?: (url: URL) => Promise<void>;
  /** Bounds on probes running at once, per key and in bytes held (src/media/probe-gate.ts). */
  limits?: ProbeLimits;
}

// The API key a probe is made for, set around a request's handling ({@link withProbeKey}), so the
// per-key bound holds through any wrapper around the probe without threading the key through it.
const probeKey = new AsyncLocalStorage<string>();

/**
 * Run `fn` with probes it starts counted against `key` (per-key bound). A probe over a bound answers
 * `{ ok: false, busy: true }` instead of reading: the caller should ask the client to retry (429).
 */
export function withProbeKey<T>(key: string, fn: () => T): T {
  return probeKey.run(key, fn);
}

// Enough for the ftyp + moov of typical short clips, and for the ftyp + mdat header when the
// moov sits at the end.
const FIRST_READ = 64 * 1024;

let sharedAgent: Agent | undefined;
function defaultDispatcher(): Agent {
  // Lazy so importing this module (e.g. in tests that inject a dispatcher) opens nothing.
  sharedAgent ??= new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 32 });
  return sharedAgent;
}

interface CacheEntry {
  durationS: number;
  /** The first video track's size, when the header gives it (element video rule). */
  width?: number;
  height?: number;
  storedAt: number;
  validators: Validators;
}

/** What one probe attempt found: a fresh reading, or confirmation the cached one still holds. */
type Outcome =
  | { kind: 'result'; result: VideoProbeResult; validators?: Validators }
  | { kind: 'not-modified' };

/** Creates a probe with its own cache; share one instance per process to benefit from it. */
export function createMediaProbe(opts: MediaProbeOptions = {}): MediaProbe {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const ttlMs = opts.cacheTtlMs ?? 10 * 60 * 1000;
  const cacheSize = Math.max(0, opts.cacheSize ?? 1000);
  const now = opts.now ?? Date.now;
  // Map iteration order is insertion order, so re-inserting on use makes it an LRU.
  const cache = new Map<string, CacheEntry>();
  // Concurrent submissions of the same video share one probe instead of racing.
  const inFlight = new Map<string, Promise<VideoProbeResult>>();
  const gate = new ProbeGate(opts.limits ?? DEFAULT_PROBE_LIMITS);

  function remember(url: string, entry: CacheEntry): void {
    if (cacheSize === 0) return;
    cache.delete(url);
    cache.set(url, entry);
    while (cache.size > cacheSize) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  async function lookup(url: string): Promise<VideoProbeResult> {
    const cached = cache.get(url);
    if (cached && now() - cached.storedAt < ttlMs) {
      remember(url, cached);
      return cachedResult(cached);
    }
    const conditional = cached && (cached.validators.etag || cached.validators.lastModified) ? cached.validators : undefined;
    const outcome = await probeOnce(url, conditional);
    if (outcome.kind === 'not-modified' && cached) {
      remember(url, { ...cached, storedAt: now() });
      return cachedResult(cached);
    }
    if (outcome.kind === 'not-modified') return { ok: false, reason: 'unexpected 304 Not Modified' };
    if (outcome.result.ok) {
      remember(url, { ...outcome.result, storedAt: now(), validators: outcome.validators ?? {} });
    } else {
      // A video that vanished or changed into junk must not keep answering from the cache.
      cache.delete(url);
    }
    return outcome.result;
  }

  async function probeOnce(rawUrl: string, conditional: Validators | undefined): Promise<Outcome> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return { kind: 'result', result: { ok: false, reason: 'invalid URL' } };
    }
    // Waiting for a slot has its own budget, so a probe that waited still gets its full time. The
    // gateway's own probes (no key) wait longer: running probes end within timeoutMs, so they get in.
    const key = probeKey.getStore();
    const admitted = await gate.admit(key, AbortSignal.timeout(key === undefined ? 2 * timeoutMs : timeoutMs));
    if (!admitted.ok) return { kind: 'result', result: { ok: false, reason: admitted.reason, busy: true } };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const ctx: FetchContext = {
      dispatcher: opts.dispatcher ?? defaultDispatcher(),
      signal: controller.signal,
      timeoutMs,
      guard: opts.guard,
    };
    // The guard (DNS lookups) is not abortable, so the deadline must also win a race against it.
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new ProbeError('aborted')), { once: true });
    });
    try {
      return await Promise.race([readHeader(ctx, url, maxBytes, conditional, admitted.admission), deadline]);
    } catch (err) {
      const reason = controller.signal.aborted
        ? `timed out after ${timeoutMs} ms`
        : err instanceof ProbeError
          ? err.message
          : `fetch failed: ${describe(err)}`;
      return { kind: 'result', result: { ok: false, reason } };
    } finally {
      clearTimeout(timer);
      admitted.admission.close();
    }
  }

  function video(url: string): Promise<VideoProbeResult> {
    const pending = inFlight.get(url);
    if (pending) return pending;
    const p = lookup(url)
      .catch((err: unknown): VideoProbeResult => ({ ok: false, reason: `probe failed: ${describe(err)}` }))
      .finally(() => inFlight.delete(url));
    inFlight.set(url, p);
    return p;
  }

  return {
    async duration(url: string): Promise<ProbeResult> {
      const r = await video(url);
      return r.ok ? { ok: true, durationS: r.durationS } : r;
    },
    video,
  };
}

/**
 * The read loop: fetch a range, let the reader say where it needs to continue (e.g. past a large
 * mdat), fetch there, until the moov is parsed or the byte budget is spent.
 */
async function readHeader(ctx: FetchContext, startUrl: URL, maxBytes: number, conditional: Validators | undefined, admission: Admission): Promise<Outcome> {
  const reader = new ContainerHeaderReader();
  let url = startUrl;
  let validators: Validators = {};
  let total: number | undefined;
  let pos = 0;
  let want = Math.min(FIRST_READ, maxBytes);
  let used = 0;
  const finish = (step: ParseStep): Outcome =>
    step.kind === 'done'
      ? { kind: 'result', result: { ok: true, durationS: step.durationS, ...(step.width && step.height ? { width: step.width, height: step.height } : {}) }, validators }
      : { kind: 'result', result: { ok: false, reason: step.kind === 'error' ? step.reason : 'unreadable container' } };

  for (;;) {
    await admission.reserve(want);
    const answer: RangeAnswer = await openRange(ctx, url, pos, want, pos === 0 ? conditional : undefined);
    if (answer.kind === 'not-modified') return { kind: 'not-modified' };
    if (pos === 0) {
      url = answer.url; // later ranges go straight to where redirects led
      validators = answer.validators;
    }
    total = answer.total ?? total;

    if (answer.kind === 'full') {
      // The server ignores Range: all we can do is read the head of the stream, parsing as it
      // arrives so we stop as soon as the moov is in, or once it is known to lie beyond the cap.
      const cap = maxBytes - used;
      await admission.reserve(Math.max(0, cap - want));
      const last: { step: ParseStep } = { step: { kind: 'error', reason: 'empty file' } };
      let offset = 0;
      const received = await consumeBody(answer.body, cap, FIRST_READ, (piece) => {
        last.step = reader.push(piece, offset);
        offset += piece.byteLength;
        return last.step.kind !== 'more' || last.step.next >= maxBytes;
      });
      const step = last.step;
      if (step.kind !== 'more') return finish(step);
      if (received >= cap || step.next >= maxBytes) {
        return failure(`moov not within the first ${maxBytes} bytes and the server ignores Range requests`);
      }
      return failure('no moov box found (file ends first)');
    }

    let bytes: Uint8Array = new Uint8Array(0);
    used += await consumeBody(answer.body, want, Number.POSITIVE_INFINITY, (piece) => {
      bytes = piece;
      return true;
    });
    if (bytes.byteLength === 0) return failure(pos === 0 ? 'empty file' : 'file ended before the moov box');
    const step = reader.push(bytes, pos);
    if (step.kind !== 'more') return finish(step);

    const next = step.next;
    // The reader only asks for bytes it lacks; anything else would loop forever.
    if (next < pos + bytes.byteLength) return failure('unreadable container (parser made no progress)');
    if (total !== undefined && next >= total) return failure('no moov box found (file ends first)');
    const budget = maxBytes - used;
    if (budget <= 0) return failure(`moov not found within ${maxBytes} bytes`);
    // Fetch the rest of a large moov in one go once its header told us its size.
    want = Math.min(budget, Math.max(FIRST_READ, step.until !== undefined ? step.until - next : 0));
    if (total !== undefined) want = Math.min(want, total - next);
    pos = next;
  }
}

function cachedResult(entry: CacheEntry): VideoProbeResult {
  return { ok: true, durationS: entry.durationS, ...(entry.width && entry.height ? { width: entry.width, height: entry.height } : {}) };
}

function failure(reason: string): Outcome {
  return { kind: 'result', result: { ok: false, reason } };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return typeof code === 'string' ? `${code} ${err.message}${cause}` : `${err.message}${cause}`;
  }
  return String(err);
}
