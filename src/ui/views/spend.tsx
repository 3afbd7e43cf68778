/** Spend (admin): spend per day stacked by provider, totals, by model and by key, CSV download. */
import { Alert, PageHead } from '../layout.tsx';
import { ChartPanel, num, RangeForm, TablePanel, Totals } from './parts.tsx';

export function SpendView() {
  return (
    <>
      <PageHead title="Spend" sub="What keys were charged, what upstreams cost, per UTC day of task creation.">
        <RangeForm csvHref="/admin/spend?format=csv" />
      </PageHead>
      <Alert />
      <Totals labels={['Charged', 'Refunded', 'Upstream cost', 'Margin']} label="Totals" />
      <ChartPanel title="Spend per day by provider" label="Spend per day, stacked by provider" />
      <div class="grid-2">
        <TablePanel id="by-model" title="By model" columns={['Model', num('Tasks'), num('Charged'), num('Upstream cost'), num('Margin')]} />
        <TablePanel id="by-key" title="By key" columns={['Key', num('Tasks'), num('Charged'), num('Refunded'), num('Margin')]} />
      </div>
    </>
  );
}
