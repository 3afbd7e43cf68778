// Usage (API key): the key's own spend from GET /v1/usage.
import { api, isMissingRoute } from '../api.js';
import { $, emptyRow, fill, fillTable, h, loadingRow, showError, usd } from '../dom.js';
import { drawDaily, rangeReport, showTotals } from '../report.js';

const error = $('#error');
let chart;

async function load(from, to) {
  showError(error, null);
  const q = (groupBy) => `/v1/usage?from=${from}&to=${to}&group_by=${groupBy}`;
  $('#csv').href = `${q('day,model')}&format=csv`;
  fill($('#by-model tbody'), loadingRow(5));
  try {
    const [byDay, byModel] = await Promise.all([api(q('day,model')), api(q('model'))]);
    const t = byDay.totals;
    showTotals({ Charged: usd(t.charged_usd), Refunded: usd(t.refunded_usd), Reserved: usd(t.reserved_usd), Tasks: String(t.tasks) });
    chart = drawDaily(byDay, (row) => row.model, chart);
    fillTable(
      $('#by-model tbody'),
      byModel.data.length
        ? byModel.data.map((r) => h('tr', {}, h('td', {}, r.model), h('td', { class: 'num' }, r.tasks), h('td', { class: 'num' }, r.completed), h('td', { class: 'num' }, usd(r.charged_usd)), h('td', { class: 'num' }, usd(r.refunded_usd))))
        : emptyRow(5, 'No tasks in this range.'),
    );
  } catch (err) {
    showError(error, isMissingRoute(err) ? new Error('Usage reports are not available on this gateway yet (GET /v1/usage is missing).') : err);
    fill($('#by-model tbody'), emptyRow(5, 'Could not load usage.'));
  }
}

rangeReport(load);
