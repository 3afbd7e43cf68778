/**
 * Spend reports on PostgreSQL. The query runs on the database server, so the gateway only waits
 * for it (no worker thread, unlike SQLite's {@link reportRunner}); the answer is rendered by the same
 * pure functions of render.ts, and the CSV is streamed a chunk at a time (yielding to the event loop
 * between chunks), so the JSON and CSV are byte-for-byte those of SQLite for the same rows.
 */
import type { SpendRepo } from '../db/repos/spend.ts';
import type { Async } from '../db/types.ts';
import { csvStream } from '../http/csv.ts';
import { csvLines, reportJson } from './render.ts';
import type { ReportRunner } from './runner.ts';

export function pgReportRunner(spend: Async<SpendRepo>): ReportRunner {
  // Reports under way: close() waits for them, so the store closes its pool after their queries.
  const running = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    running.add(p);
    const forget = () => running.delete(p);
    p.then(forget, forget);
    return p;
  };

  return {
    async json(job) {
      const report = await track(spend.report(job.range, job.head.groupBy));
      return reportJson(job.head, report, job.audience);
    },
    csv(job) {
      let chunks: ReadableStreamDefaultReader<Uint8Array> | null = null;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          // The query starts when the body is first read; a failure before any byte errors the stream.
          chunks ??= csvStream(csvLines(await track(spend.report(job.range, job.head.groupBy)), job.head.groupBy, job.audience)).getReader();
          const next = await chunks.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => chunks?.cancel(reason),
      });
    },
    async close() {
      await Promise.allSettled(running);
    },
  };
}
