/**
 * The drill's files (issue 9 #7): reference clips uploaded with `POST /v1/files` that some tasks use,
 * an upload cut off by every kill (no half file may become visible), and the checks that every
 * completed task ends with result URLs the gateway itself serves (mirrored outputs).
 */
import { readdirSync, statSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { syntheticMp4 } from '../src/media/synthetic-mp4.ts';
import { call, sleep } from './drill-load.ts';

export interface Upload {
  id: string;
  url: string;
}

/**
 * Upload one synthetic MP4 per length (multipart, one part named `file`); length in s → the file.
 * `next` names the gateway each upload goes to (replicas in turn).
 */
export async function uploadClips(next: () => Promise<string>, key: string, seconds: readonly number[]): Promise<Map<number, Upload>> {
  const out = new Map<number, Upload>();
  for (const s of seconds) {
    const base = await next();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(syntheticMp4({ durationS: s }))], { type: 'video/mp4' }), `ref-${s}.mp4`);
    const res = await fetch(`${base}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form, signal: AbortSignal.timeout(20_000) });
    const body = (await res.json()) as { id?: string; url?: string; error?: unknown };
    if (res.status !== 200 || !body.id || !body.url) throw new Error(`POST /v1/files answered ${res.status}: ${JSON.stringify(body)}`);
    out.set(s, { id: body.id, url: body.url });
  }
  return out;
}

/** Names in the store's temp folder (where an upload streams before it becomes a file). */
export function tempEntries(filesDir: string): string[] {
  try {
    return readdirSync(join(filesDir, 'tmp'));
  } catch {
    return [];
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/** An upload cut short: its request, and its temp file's name once it was seen in the temp folder. */
export interface HalfUpload {
  req: ClientRequest;
  seen: boolean;
  name?: string;
}

/**
 * Start an upload that never finishes (a valid MP4 head, then 1 MB of a body still streaming) and
 * wait (bounded) until its bytes are in the temp folder: the kill that follows catches it mid-upload.
 * Returns the request, to be destroyed once the process is gone.
 */
export async function startHalfUpload(base: string, key: string, filesDir: string, minBytes = 0): Promise<HalfUpload> {
  const before = new Set(tempEntries(filesDir));
  const req = httpRequest(`${base}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'multipart/form-data; boundary=drillzz', 'transfer-encoding': 'chunked' } });
  req.on('error', () => undefined);
  req.write('--drillzz\r\ncontent-disposition: form-data; name="file"; filename="half.mp4"\r\n\r\n');
  req.write(syntheticMp4({ durationS: 4 }));
  req.write(Buffer.alloc(1_000_000));
  for (let waited = 0; waited < 3_000; waited += 10) {
    // Replicas share the folder: ours is a new entry, and (minBytes) one as big as no other write there.
    const name = tempEntries(filesDir).find((n) => !before.has(n) && sizeOf(join(filesDir, 'tmp', n)) >= minBytes);
    if (name) return { req, seen: true, name };
    await sleep(10);
  }
  return { req, seen: false };
}

/** Every file of the key, through the cursor. */
export async function listFiles(base: string, key: string): Promise<Array<{ id: string; purpose: string; bytes: number }>> {
  const out: Array<{ id: string; purpose: string; bytes: number }> = [];
  let after: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const res = await call(base, 'GET', `/v1/files?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`, key);
    if (res.status !== 200) throw new Error(`GET /v1/files answered ${res.status}`);
    out.push(...(res.body.data as typeof out));
    if (!res.body.has_more || res.body.data.length === 0) break;
    after = out[out.length - 1]!.id;
  }
  return out;
}

export interface ResultCheck {
  /** Completed tasks whose result URLs were fetched. */
  checked: number;
  /** Result URLs fetched (200, video/mp4, an MP4 `ftyp` box). */
  urls: number;
  problems: string[];
}

/**
 * Every completed task's results are the gateway's own mirrored URLs (`{publicBase}/files/…`) and
 * each answers 200 with MP4 bytes. `sample` caps how many tasks are fetched (all by default). With
 * `via` (replicas), each URL is also fetched from a replica's own address (the next `via()` names),
 * whichever replica mirrored it: the files folder is shared.
 */
export async function checkResults(tasks: ReadonlyArray<{ id: string; status: string; results?: string[] | null }>, publicBase: string, sample = Infinity, via?: () => Promise<string>): Promise<ResultCheck> {
  const problems: string[] = [];
  const done = tasks.filter((t) => t.status === 'completed');
  for (const t of done) {
    if (!t.results?.length) problems.push(`task ${t.id}: completed with no results`);
    else if (!t.results.every((u) => u.startsWith(`${publicBase}/files/`))) problems.push(`task ${t.id}: results not mirrored: ${t.results.join(', ')}`);
  }
  const picked = done.slice(0, Math.min(done.length, sample));
  let urls = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < picked.length) {
      const t = picked[next++]!;
      for (const result of t.results ?? []) {
        const targets = via && result.startsWith(publicBase) ? [result, `${await via()}${result.slice(publicBase.length)}`] : [result];
        let served = 0;
        for (const url of targets) {
          try {
            const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
            const bytes = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200 || res.headers.get('content-type') !== 'video/mp4' || bytes.subarray(4, 8).toString('latin1') !== 'ftyp') {
              problems.push(`task ${t.id}: GET ${url} → ${res.status} ${res.headers.get('content-type')}, ${bytes.length} bytes`);
            } else served++;
          } catch (err) {
            problems.push(`task ${t.id}: GET ${url} failed: ${(err as Error).message}`);
          }
        }
        if (served === targets.length) urls++;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { checked: picked.length, urls, problems };
}
