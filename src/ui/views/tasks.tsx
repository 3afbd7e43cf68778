/** Tasks: the latest 20 (admin: every key's), a detail with attempts and ledger lines, the video. */
import { Alert, PageHead } from '../layout.tsx';
import { num, TablePanel } from './parts.tsx';

export function TasksView() {
  return (
    <>
      <PageHead title="Tasks" sub="The latest 20 tasks, newest first. Select one to see its attempts, money and video.">
        <p class="badge" id="counts" aria-live="polite">
          …
        </p>
      </PageHead>
      <Alert />
      <TablePanel id="tasks" columns={['Task', 'Status', 'Provider', num('Attempts'), num('Cost'), ['Created', 'hide-phone']]} />
      <section class="panel stack" id="detail" hidden aria-live="polite"></section>
    </>
  );
}
