/** Providers (admin): health, prices, Enabled switch and priority per provider; the audit trail. */
import { Alert, PageHead } from '../layout.tsx';
import { num, TablePanel } from './parts.tsx';

export function ProvidersView() {
  return (
    <>
      <PageHead title="Providers" sub="Lower priority is tried first; within a tier, the cheapest healthy provider wins. Changes apply at once." />
      <Alert />
      <TablePanel
        id="providers"
        columns={['Provider', 'State', num('Success rate'), num('p50 completion'), num('720p / s'), num('1080p / s'), 'Priority', 'Enabled']}
      />
      <TablePanel id="audit" title="Audit" columns={['When', 'Provider / key', 'Change']} />
    </>
  );
}
