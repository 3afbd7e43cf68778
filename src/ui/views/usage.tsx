/** Usage (API key): the key's own spend by day and model. */
import { Alert, PageHead } from '../layout.tsx';
import { ChartPanel, num, RangeForm, TablePanel, Totals } from './parts.tsx';

export function UsageView() {
  return (
    <>
      <PageHead title="Usage" sub="What this key was charged, per UTC day and model.">
        <RangeForm csvHref="/v1/usage?format=csv" />
      </PageHead>
      <Alert />
      <Totals labels={['Charged', 'Refunded', 'Reserved', 'Tasks']} />
      <ChartPanel title="Charged per day by model" label="Charged per day, stacked by model" />
      <TablePanel id="by-model" title="By model" columns={['Model', num('Tasks'), num('Completed'), num('Charged'), num('Refunded')]} />
    </>
  );
}
