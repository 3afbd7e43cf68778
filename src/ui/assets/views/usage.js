// Usage (API key): the key's own spend from GET /v1/usage.
import { api, isMissingRoute } from '../api.js';
import { stackedDaily } from '../chart.js';
import { $, daysBetween, emptyRow, fill, fillTable, h, loadingRow, monthToDate, showError, usd } from '../dom.js';

const form = $('#range');
const error = $('#error');
let chart;

const range = monthToDate();
form.from.value = range.from;
form.to.value = range.to;

async function load() {
  showError(error, null);
  const q = (groupBy) => `/v1/usage?from=${form.from.value}&to=${form.to.value}&group_by=${groupBy}`;
  $('#csv').href = `${q('day,model')}&format=csv`;
  fill($('#by-model tbody'), loadingRow(5));
  try {
    const [byDay, byModel] = await Promise.all([api(q('day,model')), api(q('model'))]);
    const t = byDay.totals;
    const totals = { Charged: usd(t.charged_usd), Refunded: usd(t.refunded_usd), Reserved: usd(t.reserved_usd), Tasks: String(t.tasks) };
    for (const [label, value] of Object.entries(totals)) document.querySelector(`[data-total="${label}"]`).textContent = value;
    const days = daysBetween(byDay.from, byDay.to);
    const series = new Map();
    for (const row of byDay.data) {
      if (!series.has(row.model)) series.set(row.model, days.map(() => 0));
      series.get(row.model)[days.indexOf(row.day)] += row.charged_usd;
    }
    // An empty range says so in words instead of drawing empty axes.
    $('#chart-empty').hidden = byDay.data.length > 0;
    $('#chart').parentElement.hidden = byDay.data.length === 0;
    chart = stackedDaily($('#chart'), days, series, chart);
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

form.addEventListener('submit', (e) => {
  e.preventDefault();
  load();
});
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', load);
else load();
