/**
 * The report worker thread: its own read-only connection to the database, so a report — query and
 * rendering — never holds the gateway's event loop or its connection. Jobs come one at a time
 * from {@link ./runner.ts}; answers are the finished JSON text, or the CSV in chunks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { spendRepo } from '../db/repos/spend.ts';
import { csvLine } from '../http/csv.ts';
import { csvLines, reportJson } from './render.ts';
import type { ReportJob, WorkerAnswer } from './runner.ts';

/** CSV lines per message: keeps each message small and the first bytes early. */
const LINES_PER_CHUNK = 2_000;

const db = new Database((workerData as { path: string }).path, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const spend = spendRepo(db);
const port = parentPort!;
const send = (answer: WorkerAnswer) => port.postMessage(answer);

port.on('message', (job: ReportJob | 'close') => {
  if (job === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    const report = spend.report(job.range, job.head.groupBy);
    if (job.format === 'json') return send({ id: job.id, done: true, text: reportJson(job.head, report, job.audience) });
    let chunk = '';
    let n = 0;
    for (const line of csvLines(report, job.head.groupBy, job.audience)) {
      chunk += csvLine(line);
      if (++n % LINES_PER_CHUNK === 0) {
        send({ id: job.id, chunk });
        chunk = '';
      }
    }
    send({ id: job.id, done: true, text: chunk });
  } catch (err) {
    send({ id: job.id, error: (err as Error).message });
  }
});
