// Spend (admin): one report per breakdown from GET /admin/spend for the chosen UTC range.
import { api } from '../api.js';
import { $, emptyRow, fill, fillTable, h, loadingRow, showError, usd } from '../dom.js';
import { drawDaily, rangeReport, showTotals } from '../report.js';

const error = $('#error');
let chart;

const margin = (r) => r.margin_usd ?? Math.round((r.charged_usd - r.upstream_cost_usd) * 1e6) / 1e6;

async function load(from, to) {
  const report = (groupBy) => api(`/admin/spend?from=${from}&to=${to}&group_by=${groupBy}`);
  showError(error, null);
  const csv = new URLSearchParams({ from, to, group_by: 'day,provider,model,key', format: 'csv' });
  $('#csv').href = `/admin/spend?${csv}`;
  for (const id of ['#by-model', '#by-key']) fill($(`${id} tbody`), loadingRow(5));
  try {
    const [byDay, byModel, byKey] = await Promise.all([report('day,provider'), report('model'), report('key')]);
    const t = byDay.totals;
    showTotals({ Charged: usd(t.charged_usd), Refunded: usd(t.refunded_usd), 'Upstream cost': usd(t.upstream_cost_usd), Margin: usd(margin(t)) });
    chart = drawDaily(byDay, (row) => row.provider ?? 'not routed', chart);

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

rangeReport(load);
