// Providers (admin): GET /admin/providers, PATCH /admin/providers/{id}, GET /admin/audit.
import { api } from '../api.js';
import { $, badge, emptyRow, fill, fillTable, h, loadingRow, pct, secs, showError, usd, when } from '../dom.js';

const error = $('#error');
const MODEL = 'kling-v3-motion-control';

/** A price spec as "$0.1134" (USD) or "11 credits ($0.055)". */
function price(spec, quality) {
  const n = spec?.per_second?.[quality];
  if (n === undefined) return '—';
  return spec.credit_usd ? `${n} cr (${usd(n * spec.credit_usd)})` : usd(n);
}

async function patch(id, change, control) {
  showError(error, null);
  control.disabled = true;
  try {
    await api(`/admin/providers/${encodeURIComponent(id)}`, { method: 'PATCH', body: change });
    await Promise.all([loadProviders(), loadAudit()]);
  } catch (err) {
    showError(error, err);
    control.disabled = false;
  }
}

function row(p) {
  const spec = p.models?.[MODEL]?.price;
  const state = p.health?.state ?? 'closed';
  const enabled = h('input', { type: 'checkbox', checked: p.enabled, 'aria-label': `Enabled ${p.id}`, onchange: (e) => patch(p.id, { enabled: e.target.checked }, e.target) });
  const priority = h('input', {
    type: 'number',
    class: 'narrow',
    value: String(p.priority),
    step: '1',
    'aria-label': `Priority ${p.id}`,
    onchange: (e) => {
      const n = Number(e.target.value);
      if (Number.isInteger(n)) patch(p.id, { priority: n }, e.target);
      else showError(error, new Error(`Priority of ${p.id} must be a whole number.`));
    },
  });
  return h(
    'tr',
    {},
    h('td', {}, h('strong', {}, p.id), h('div', { class: 'muted small' }, p.type)),
    h('td', {}, badge(state.replace('_', '-'), state)),
    h('td', { class: 'num' }, pct(p.health?.success_rate)),
    h('td', { class: 'num' }, secs(p.health?.p50_completion_s)),
    h('td', { class: 'num' }, price(spec, '720p')),
    h('td', { class: 'num' }, price(spec, '1080p')),
    h('td', {}, priority),
    h('td', {}, h('label', { class: 'check' }, enabled, 'Enabled')),
  );
}

async function loadProviders() {
  const list = await api('/admin/providers');
  fillTable($('#providers tbody'), list.data.length ? list.data.map(row) : emptyRow(8, 'No providers are configured.'));
}

/** "enabled: true → false, priority: 0 → 2": the fields an audit entry changed. */
function changes(before, after) {
  if (!before) return `created ${after?.name ?? ''}`.trim();
  if (!after) return 'deleted';
  const out = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (k === 'health' || k === 'created') continue;
    const a = JSON.stringify(before?.[k]);
    const b = JSON.stringify(after?.[k]);
    if (a !== b) out.push(k === 'models' ? 'models changed' : `${k}: ${a ?? '—'} → ${b ?? '—'}`);
  }
  return out.join(', ') || 'no change';
}

async function loadAudit() {
  const list = await api('/admin/audit?limit=30');
  fillTable(
    $('#audit tbody'),
    list.data.length
      ? list.data.map((a) => h('tr', {}, h('td', {}, when(a.at)), h('td', {}, h('strong', {}, a.target), h('div', { class: 'muted small' }, a.action)), h('td', {}, changes(a.before, a.after))))
      : emptyRow(3, 'No changes yet.'),
  );
}

fill($('#providers tbody'), loadingRow(8));
fill($('#audit tbody'), loadingRow(3));
Promise.all([loadProviders(), loadAudit()]).catch((err) => {
  showError(error, err);
  fill($('#providers tbody'), emptyRow(8, 'Could not load providers.'));
  fill($('#audit tbody'), emptyRow(3, 'Could not load the audit trail.'));
});
