/**
 * Runs spend reports off the event loop: a worker thread ({@link ./worker.ts}) with its own
 * read-only SQLite connection queries the rollup and renders the answer, so a report never delays
 * the API, however big. Where no worker can run (an in-memory database, a build without the worker
 * file, a worker that died) the same code runs in-process instead.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SpendRange, SpendRepo } from '../db/repos/spend.ts';
import { csvLine, csvStream } from '../http/csv.ts';
import { csvLines, reportJson, type Audience, type ReportHead } from './render.ts';

/** One report to make. */
export interface ReportJob {
  id: number;
  range: SpendRange;
  head: ReportHead;
  audience: Audience;
  format: 'json' | 'csv';
}

/** What the worker sends back: CSV chunks, then `done` (with the JSON or the last chunk), or an error. */
export type WorkerAnswer = { id: number; chunk: string } | { id: number; done: true; text: string } | { id: number; error: string };

export interface ReportRunner {
  /** The JSON answer's text. */
  json(job: Omit<ReportJob, 'id' | 'format'>): Promise<string>;
  /** The CSV, streamed as the worker renders it. */
  csv(job: Omit<ReportJob, 'id' | 'format'>): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

interface Pending {
  job: Omit<ReportJob, 'id'>;
  /** Whether part of the answer has already gone out (a CSV chunk): then it cannot be made again. */
  started: boolean;
  onChunk(text: string): void;
  onDone(text: string): void;
  onError(err: Error): void;
}

/**
 * Loads the TypeScript worker through tsx's API inside the thread (a worker does not inherit the
 * parent's loader hooks; `--import` in its execArgv does not apply to its entry module).
 */
const TSX_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsxApi).then((api) => { api.register(); return import(workerData.entry); });
`;

/** How to start the worker: the TypeScript source through tsx, or the build's file (dist/). */
function workerEntry(): { source: string | URL; eval: boolean; data: Record<string, string> } | null {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // tsx's ESM API, found from this package (its .cjs twin cannot register hooks when imported).
    const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    return { source: TSX_BOOTSTRAP, eval: true, data: { tsxApi, entry: new URL('./worker.ts', here).href } };
  }
  const url = new URL('./report-worker.js', here);
  return existsSync(fileURLToPath(url)) ? { source: url, eval: false, data: {} } : null;
}

export function reportRunner(path: string, inProcess: SpendRepo): ReportRunner {
  let worker: Worker | null = null;
  let broken = path === ':memory:';
  let nextId = 1;
  const pending = new Map<number, Pending>();

  /** The whole answer, made in-process (no worker, or the worker died before answering). */
  const inProcessText = (job: Omit<ReportJob, 'id'>): string => {
    const report = inProcess.report(job.range, job.head.groupBy);
    if (job.format === 'json') return reportJson(job.head, report, job.audience);
    let text = '';
    for (const line of csvLines(report, job.head.groupBy, job.audience)) text += csvLine(line);
    return text;
  };
  // A dead worker is not restarted: reports go on in-process, and the jobs it held are made again.
  const fail = (err: Error) => {
    broken = true;
    worker = null;
    for (const p of pending.values()) {
      if (p.started) p.onError(err);
      else {
        try {
          p.onDone(inProcessText(p.job));
        } catch (e) {
          p.onError(e as Error);
        }
      }
    }
    pending.clear();
  };
  const start = (): Worker | null => {
    if (worker || broken) return worker;
    const entry = workerEntry();
    if (!entry) {
      broken = true;
      return null;
    }
    worker = new Worker(entry.source, { eval: entry.eval, workerData: { path, ...entry.data } });
    worker.unref();
    worker.on('message', (a: WorkerAnswer) => {
      const p = pending.get(a.id);
      if (!p) return;
      if ('error' in a) {
        pending.delete(a.id);
        p.onError(new Error(`report failed: ${a.error}`));
      } else if ('done' in a) {
        pending.delete(a.id);
        p.onDone(a.text);
      } else {
        p.started = true;
        p.onChunk(a.chunk);
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`report worker exited (${code})`)));
    return worker;
  };
  const submit = (job: Omit<ReportJob, 'id'>, handlers: Pick<Pending, 'onChunk' | 'onDone' | 'onError'>) => {
    const w = start();
    if (!w) return false;
    const id = nextId++;
    pending.set(id, { job, started: false, ...handlers });
    w.postMessage({ ...job, id } satisfies ReportJob);
    return true;
  };

  return {
    json(job) {
      return new Promise<string>((resolve, reject) => {
        const sent = submit({ ...job, format: 'json' }, { onChunk: () => {}, onDone: resolve, onError: reject });
        if (!sent) resolve(inProcessText({ ...job, format: 'json' }));
      });
    },
    csv(job) {
      const encoder = new TextEncoder();
      let stream: ReadableStream<Uint8Array> | null = null;
      const viaWorker = new ReadableStream<Uint8Array>({
        start(controller) {
          const sent = submit(
            { ...job, format: 'csv' },
            {
              onChunk: (text) => controller.enqueue(encoder.encode(text)),
              onDone: (text) => {
                if (text) controller.enqueue(encoder.encode(text));
                controller.close();
              },
              onError: (err) => controller.error(err),
            },
          );
          if (!sent) stream = csvStream(csvLines(inProcess.report(job.range, job.head.groupBy), job.head.groupBy, job.audience));
        },
      });
      return stream ?? viaWorker;
    },
    async close() {
      const w = worker;
      broken = true;
      worker = null;
      if (!w) return;
      const exited = new Promise((resolve) => w.once('exit', resolve));
      w.postMessage('close');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      await w.terminate();
    },
  };
}
