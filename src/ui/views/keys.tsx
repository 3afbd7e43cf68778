/** Keys (admin): list with balance and budgets, Create key (secrets shown once), Revoke, Credit. */
import { Alert, PageHead } from '../layout.tsx';
import { num, TablePanel } from './parts.tsx';

export function KeysView() {
  return (
    <>
      <PageHead title="Keys" sub="API keys for apps. A key and its webhook secret are shown once, when created." />
      <section class="panel">
        <h2>Create key</h2>
        <form class="inline" id="create">
          <div class="field">
            <label for="name">Name</label>
            <input type="text" id="name" name="name" required maxlength={100} placeholder="my-app" />
          </div>
          <div class="field">
            <label for="balance">Balance (USD)</label>
            <input type="number" id="balance" name="balance_usd" min="0" step="0.01" placeholder="post-paid" />
          </div>
          <div class="field">
            <label for="daily">Daily budget (USD)</label>
            <input type="number" id="daily" name="daily_budget_usd" min="0" step="0.01" placeholder="none" />
          </div>
          <div class="field">
            <label for="monthly">Monthly budget (USD)</label>
            <input type="number" id="monthly" name="monthly_budget_usd" min="0" step="0.01" placeholder="none" />
          </div>
          <button type="submit">Create key</button>
        </form>
        <div class="notice secret" id="created" hidden aria-live="polite"></div>
      </section>
      <Alert />
      <TablePanel
        id="keys"
        columns={['Name', 'Prefix', num('Balance'), ['Daily budget', 'num hide-phone'], ['Monthly budget', 'num hide-phone'], 'Status', 'Credit', '']}
      />
    </>
  );
}
