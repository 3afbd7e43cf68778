/** Spend (admin): spend per day stacked by provider, totals, by model and by key, CSV download. */
import { Alert, PageHead } from '../layout.tsx';

export function SpendView() {
  return (
    <>
      <PageHead title="Spend" sub="What keys were charged, what upstreams cost, per UTC day of task creation.">
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
          <a class="button secondary" id="csv" href="/admin/spend?format=csv" download>
            Download CSV
          </a>
        </form>
      </PageHead>
      <Alert />
      <div class="grid-4" id="totals" aria-label="Totals">
        {['Charged', 'Refunded', 'Upstream cost', 'Margin'].map((label) => (
          <div class="panel stat">
            <div class="label">{label}</div>
            <div class="value" data-total={label}>
              —
            </div>
          </div>
        ))}
      </div>
      <section class="panel">
        <h2>Spend per day by provider</h2>
        <div class="chart-box">
          <canvas id="chart" role="img" aria-label="Spend per day, stacked by provider"></canvas>
        </div>
        <p class="empty" id="chart-empty" hidden>
          No tasks in this range yet.
        </p>
      </section>
      <div class="grid-2">
        <section class="panel">
          <h2>By model</h2>
          <div class="table-wrap">
            <table id="by-model" class="cards">
              <thead>
                <tr>
                  <th>Model</th>
                  <th class="num">Tasks</th>
                  <th class="num">Charged</th>
                  <th class="num">Upstream cost</th>
                  <th class="num">Margin</th>
                </tr>
              </thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
        <section class="panel">
          <h2>By key</h2>
          <div class="table-wrap">
            <table id="by-key" class="cards">
              <thead>
                <tr>
                  <th>Key</th>
                  <th class="num">Tasks</th>
                  <th class="num">Charged</th>
                  <th class="num">Refunded</th>
                  <th class="num">Margin</th>
                </tr>
              </thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
      </div>
    </>
  );
}
