// Tasks: the latest 20 (admin: GET /admin/tasks, every key; API key: GET /v1/tasks, its own).
import { api } from '../api.js';
import { $, badge, emptyRow, fill, fillTable, h, loadingRow, showError, usd, when } from '../dom.js';
import { taskVideo } from '../video.js';

const admin = document.body.dataset.role === 'admin';
const base = admin ? '/admin/tasks' : '/v1/tasks';
const error = $('#error');
const detail = $('#detail');
let selected = location.hash.slice(1) || null;
let timer;

const RUNNING = new Set(['pending', 'processing']);
const cost = (t) => (RUNNING.has(t.status) ? `${usd(t.usage.reserved_usd)} held` : usd(t.usage.charged_usd));

function row(t) {
  return h(
    'tr',
    { class: `clickable${t.id === selected ? ' selected' : ''}`, tabindex: '0', onclick: () => select(t.id), onkeydown: (e) => e.key === 'Enter' && select(t.id) },
    h('td', {}, h('div', { class: 'mono' }, t.id), h('div', { class: 'muted small' }, t.model, admin && t.key_id ? ` · ${t.key_id}` : '')),
    h('td', {}, badge(t.status), RUNNING.has(t.status) ? h('span', { class: 'muted small' }, ` ${t.progress}%`) : ''),
    h('td', {}, t.provider ?? '—'),
    h('td', { class: 'num' }, t.attempts.length),
    h('td', { class: 'num' }, cost(t)),
    h('td', { class: 'hide-phone' }, when(t.created)),
  );
}

async function load() {
  clearTimeout(timer);
  try {
    const list = await api(`${base}?limit=20`);
    const running = list.data.filter((t) => RUNNING.has(t.status)).length;
    const completed = list.data.filter((t) => t.status === 'completed').length;
    $('#counts').textContent = `${running} running · ${completed} completed`;
    fillTable($('#tasks tbody'), list.data.length ? list.data.map(row) : emptyRow(6, 'No tasks yet. Try one in the Playground.'));
    showError(error, null);
    // Keep following while something is still running.
    if (running) timer = setTimeout(load, 2000);
  } catch (err) {
    showError(error, err);
    fill($('#tasks tbody'), emptyRow(6, 'Could not load tasks.'));
  }
}

async function select(id) {
  selected = id;
  history.replaceState(null, '', `#${id}`);
  for (const tr of document.querySelectorAll('#tasks tbody tr')) tr.classList.toggle('selected', tr.querySelector('.mono')?.textContent === id);
  detail.hidden = false;
  fill(detail, h('p', { class: 'loading' }, 'Loading task…'));
  try {
    const t = await api(`${base}/${encodeURIComponent(id)}`);
    fill(detail, ...view(t));
    if (RUNNING.has(t.status)) setTimeout(() => selected === id && select(id), 2000);
  } catch (err) {
    fill(detail, h('div', { role: 'alert', class: 'alert' }, err.message));
  }
}

function view(t) {
  const u = t.usage;
  const parts = [
    h('h2', {}, `Task ${t.id}`),
    h('p', {}, badge(t.status), ` ${t.model} · provider ${t.provider ?? '—'} · created ${when(t.created)}`, t.key_id ? ` · key ${t.key_id}` : ''),
    h(
      'div',
      { class: 'stats' },
      [
        ['Reserved', usd(u.reserved_usd)],
        ['Charged', usd(u.charged_usd)],
        ['Refunded', usd(u.refunded_usd)],
        ['Units', `${u.billable_units ?? '—'} × ${usd(u.unit_price_usd)}`],
        // Admin only: what the provider charges the operator (never shown to an API key).
        ...(t.upstream_cost_usd !== undefined ? [['Upstream cost', usd(t.upstream_cost_usd)]] : []),
      ].map(([label, value]) => h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value))),
    ),
  ];
  if (t.error) parts.push(h('div', { role: 'alert', class: 'alert' }, `${t.error.code}: ${t.error.message}`));
  const video = taskVideo(t);
  if (video) parts.push(video);
  if (t.result_data?.element_id) parts.push(h('p', {}, 'Element id: ', h('span', { class: 'mono' }, t.result_data.element_id)));
  parts.push(
    h('h2', {}, 'Attempts'),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Provider'), h('th', {}, 'Status'), h('th', {}, 'Upstream id'), h('th', {}, 'Error'))), h('tbody', {}, t.attempts.map((a) => h('tr', {}, h('td', {}, a.provider), h('td', {}, badge(a.status)), h('td', { class: 'mono' }, a.upstream_id ?? '—'), h('td', {}, a.error ? a.error.message : '')))))),
  );
  if (t.ledger) {
    parts.push(
      h('h2', {}, 'Ledger'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Entry'), h('th', { class: 'num' }, 'Amount'), h('th', {}, 'Note'))),
          h('tbody', {}, t.ledger.length ? t.ledger.map((l) => h('tr', {}, h('td', {}, when(l.created)), h('td', {}, l.kind), h('td', { class: 'num' }, usd(l.amount_usd)), h('td', {}, l.note ?? ''))) : emptyRow(4, 'No ledger lines.')),
        ),
      ),
    );
  }
  return parts;
}

fill($('#tasks tbody'), loadingRow(6));
load();
if (selected) select(selected);
