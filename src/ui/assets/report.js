// What the date-range report pages (Spend, Usage) share: the #range form, the totals row and the
// stacked daily chart. Each page keeps its own queries, tables and error words.
import { stackedDaily } from './chart.js';
import { $, daysBetween, monthToDate } from './dom.js';

/** Start the #range form at month-to-date; call `load(from, to)` now and on every Show. */
export function rangeReport(load) {
  const form = $('#range');
  const range = monthToDate();
  form.from.value = range.from;
  form.to.value = range.to;
  const run = () => load(form.from.value, form.to.value);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  // Chart.js is a deferred classic script: it has run once the document is parsed.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
  else run();
}

/** Write each figure (already formatted) into its `[data-total="<label>"]`. */
export function showTotals(totals) {
  for (const [label, value] of Object.entries(totals)) document.querySelector(`[data-total="${label}"]`).textContent = value;
}

/**
 * Draw a day-grouped report's `charged_usd` on #chart, one stack per `seriesOf(row)`; returns the
 * chart, to pass back as `previous` on the next draw.
 */
export function drawDaily(report, seriesOf, previous) {
  const days = daysBetween(report.from, report.to);
  const series = new Map();
  for (const row of report.data) {
    const name = seriesOf(row);
    if (!series.has(name)) series.set(name, days.map(() => 0));
    series.get(name)[days.indexOf(row.day)] += row.charged_usd;
  }
  // An empty range says so in words instead of drawing empty axes.
  $('#chart-empty').hidden = report.data.length > 0;
  $('#chart').parentElement.hidden = report.data.length === 0;
  return stackedDaily($('#chart'), days, series, previous);
}
