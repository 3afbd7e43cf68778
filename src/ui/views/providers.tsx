/** Providers (admin): health, prices, Enabled switch and priority per provider; the audit trail. */
import { Alert, PageHead } from '../layout.tsx';

export function ProvidersView() {
  return (
    <>
      <PageHead title="Providers" sub="Lower priority is tried first; within a tier, the cheapest healthy provider wins. Changes apply at once." />
      <Alert />
      <section class="panel">
        <div class="table-wrap">
          <table id="providers" class="cards">
            <thead>
              <tr>
                <th>Provider</th>
                <th>State</th>
                <th class="num">Success rate</th>
                <th class="num">p50 completion</th>
                <th class="num">720p / s</th>
                <th class="num">1080p / s</th>
                <th>Priority</th>
                <th>Enabled</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
      <section class="panel">
        <h2>Audit</h2>
        <div class="table-wrap">
          <table id="audit" class="cards">
            <thead>
              <tr>
                <th>When</th>
                <th>Provider / key</th>
                <th>Change</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
    </>
  );
}
