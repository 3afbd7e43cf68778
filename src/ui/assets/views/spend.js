// Spend (admin): one report per breakdown from GET /admin/spend for the chosen UTC range.
import { api } from '../api.js';
import { stackedDaily } from '../chart.js';
import { $, daysBetween, emptyRow, fill, fillTable, h, loadingRow, monthToDate, showError, usd } from '../dom.js';

const form = $('#range');
const error = $('#error');
let chart;

const range = monthToDate();
form.from.value = range.from;
form.to.value = range.to;

const report = (groupBy) => api(`/admin/spend?from=${form.from.value}&to=${form.to.value}&group_by=${groupBy}`);
const margin = (r) => r.margin_usd ?? Math.round((r.charged_usd - r.upstream_cost_usd) * 1e6) / 1e6;

async function load() {
  showError(error, null);
  const csv = new URLSearchParams({ from: form.from.value, to: form.to.value, group_by: 'day,provider,model,key', format: 'csv' });
  $('#csv').href = `/admin/spend?${csv}`;
  for (const id of ['#by-model', '#by-key']) fill($(`${id} tbody`), loadingRow(5));
  try {
    const [byDay, byModel, byKey] = await Promise.all([report('day,provider'), report('model'), report('key')]);
    const t = byDay.totals;
    const totals = { Charged: t.charged_usd, Refunded: t.refunded_usd, 'Upstream cost': t.upstream_cost_usd, Margin: margin(t) };
    for (const [label, value] of Object.entries(totals)) document.querySelector(`[data-total="${label}"]`).textContent = usd(value);

    const days = daysBetween(byDay.from, byDay.to);
    const series = new Map();
    for (const row of byDay.data) {
      const provider = row.provider ?? 'not routed';
      if (!series.has(provider)) series.set(provider, days.map(() => 0));
      series.get(provider)[days.indexOf(row.day)] += row.charged_usd;
    }
    // An empty range says so in words instead of drawing empty axes.
    $('#chart-empty').hidden = byDay.data.length > 0;
    $('#chart').parentElement.hidden = byDay.data.length === 0;
    chart = stackedDaily($('#chart'), days, series, chart);

    fillTable(
      $('#by-model tbody'),
      byModel.data.length
        ? byModel.data.map((r) => h('tr', {}, h('td', {}, r.model), h('td', { class: 'num' }, r.tasks), h('td', { class: 'num' }, usd(r.charged_usd)), h('td', { class: 'num' }, usd(r.upstream_cost_usd)), h('td', { class: 'num' }, usd(margin(r)))))
        : emptyRow(5, 'No tasks in this range.'),
    );
    fillTable(
      $('#by-key tbody'),
      byKey.data.length
        ? byKey.data.map((r) => h('tr', {}, h('td', {}, r.key_name ?? r.key_id, h('div', { class: 'mono muted' }, r.key_id)), h('td', { class: 'num' }, r.tasks), h('td', { class: 'num' }, usd(r.charged_usd)), h('td', { class: 'num' }, usd(r.refunded_usd)), h('td', { class: 'num' }, usd(margin(r)))))
        : emptyRow(5, 'No tasks in this range.'),
    );
  } catch (err) {
    showError(error, err);
    for (const id of ['#by-model', '#by-key']) fill($(`${id} tbody`), emptyRow(5, 'Could not load the report.'));
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  load();
});
// Chart.js is a deferred classic script: it has run once the document is parsed.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', load);
else load();
