// Keys (admin): GET/POST /admin/keys, DELETE /admin/keys/{id}, POST /admin/keys/{id}/credit.
import { api } from '../api.js';
import { $, badge, emptyRow, fill, fillTable, h, loadingRow, showError, usd } from '../dom.js';

const error = $('#error');
const form = $('#create');
const created = $('#created');

const num = (input) => (input.value === '' ? undefined : Number(input.value));

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  showError(error, null);
  const body = { name: form.name.value.trim(), balance_usd: num(form.balance_usd), daily_budget_usd: num(form.daily_budget_usd), monthly_budget_usd: num(form.monthly_budget_usd) };
  try {
    const k = await api('/admin/keys', { method: 'POST', body });
    form.reset();
    fill(
      created,
      h('strong', {}, `Key “${k.name}” created. Copy both now: they are not shown again.`),
      h('span', { class: 'small muted' }, 'API key'),
      h('code', { class: 'mono', 'aria-label': 'New API key' }, k.key),
      h('span', { class: 'small muted' }, 'Webhook secret'),
      h('code', { class: 'mono', 'aria-label': 'New webhook secret' }, k.webhook_secret),
    );
    created.hidden = false;
    await load();
  } catch (err) {
    showError(error, err);
  }
});

function creditForm(k) {
  const amount = h('input', { type: 'number', class: 'narrow', step: '0.01', min: '0.01', required: true, 'aria-label': `Credit amount for ${k.name}`, placeholder: 'USD' });
  return h(
    'form',
    {
      class: 'inline',
      onsubmit: async (e) => {
        e.preventDefault();
        showError(error, null);
        try {
          await api(`/admin/keys/${k.id}/credit`, { method: 'POST', body: { amount_usd: Number(amount.value), note: 'dashboard credit' } });
          await load();
        } catch (err) {
          showError(error, err);
        }
      },
    },
    amount,
    h('button', { type: 'submit', class: 'secondary' }, 'Credit'),
  );
}

function revokeButton(k) {
  let armed = false;
  const button = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      // Two clicks: the first arms, so a stray click never revokes a key.
      if (!armed) {
        armed = true;
        button.textContent = 'Confirm revoke';
        setTimeout(() => {
          armed = false;
          button.textContent = 'Revoke';
        }, 5000);
        return;
      }
      showError(error, null);
      try {
        await api(`/admin/keys/${k.id}`, { method: 'DELETE' });
        await load();
      } catch (err) {
        showError(error, err);
      }
    },
  }, 'Revoke');
  return button;
}

async function load() {
  const list = await api('/admin/keys');
  fillTable(
    $('#keys tbody'),
    list.data.length
      ? list.data.map((k) =>
          h(
            'tr',
            {},
            h('td', {}, h('strong', {}, k.name), h('div', { class: 'mono muted' }, k.id)),
            h('td', { class: 'mono' }, k.prefix),
            h('td', { class: 'num' }, k.balance_usd === null ? 'post-paid' : usd(k.balance_usd)),
            h('td', { class: 'num hide-phone' }, usd(k.daily_budget_usd)),
            h('td', { class: 'num hide-phone' }, usd(k.monthly_budget_usd)),
            h('td', {}, k.revoked ? badge('revoked') : badge('active', 'ok')),
            h('td', {}, k.revoked ? '' : k.balance_usd === null ? h('span', { class: 'muted', title: 'post-paid keys have no balance to credit' }, '—') : creditForm(k)),
            h('td', {}, k.revoked ? '' : revokeButton(k)),
          ),
        )
      : emptyRow(8, 'No keys yet. Create one above.'),
  );
}

fill($('#keys tbody'), loadingRow(8));
load().catch((err) => {
  showError(error, err);
  fill($('#keys tbody'), emptyRow(8, 'Could not load keys.'));
});
