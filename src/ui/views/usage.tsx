/** Usage (API key): the key's own spend by day and model. */
import { Alert, PageHead } from '../layout.tsx';

export function UsageView() {
  return (
    <>
      <PageHead title="Usage" sub="What this key was charged, per UTC day and model.">
        <form class="inline" id="range">
          <div class="field">
            <label for="from">From</label>
            <input type="date" id="from" name="from" required />
          </div>
          <div class="field">
            <label for="to">To</label>
            <input type="date" id="to" name="to" required />
          </div>
          <button type="submit">Show</button>
          <a class="button secondary" id="csv" href="/v1/usage?format=csv" download>
            Download CSV
          </a>
        </form>
      </PageHead>
      <Alert />
      <div class="grid-4" id="totals">
        {['Charged', 'Refunded', 'Reserved', 'Tasks'].map((label) => (
          <div class="panel stat">
            <div class="label">{label}</div>
            <div class="value" data-total={label}>
              —
            </div>
          </div>
        ))}
      </div>
      <section class="panel">
        <h2>Charged per day by model</h2>
        <div class="chart-box">
          <canvas id="chart" role="img" aria-label="Charged per day, stacked by model"></canvas>
        </div>
        <p class="empty" id="chart-empty" hidden>
          No tasks in this range yet.
        </p>
      </section>
      <section class="panel">
        <h2>By model</h2>
        <div class="table-wrap">
          <table id="by-model" class="cards">
            <thead>
              <tr>
                <th>Model</th>
                <th class="num">Tasks</th>
                <th class="num">Completed</th>
                <th class="num">Charged</th>
                <th class="num">Refunded</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
    </>
  );
}
