/** Tasks: the latest 20 (admin: every key's), a detail with attempts and ledger lines, the video. */
import { Alert, PageHead } from '../layout.tsx';

export function TasksView() {
  return (
    <>
      <PageHead title="Tasks" sub="The latest 20 tasks, newest first. Select one to see its attempts, money and video.">
        <p class="badge" id="counts" aria-live="polite">
          …
        </p>
      </PageHead>
      <Alert />
      <section class="panel">
        <div class="table-wrap">
          <table id="tasks" class="cards">
            <thead>
              <tr>
                <th>Task</th>
                <th>Status</th>
                <th>Provider</th>
                <th class="num">Attempts</th>
                <th class="num">Cost</th>
                <th class="hide-phone">Created</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
      <section class="panel stack" id="detail" hidden aria-live="polite"></section>
    </>
  );
}
