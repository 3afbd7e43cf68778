// Stacked daily bars with Chart.js (loaded from node_modules by the page as window.Chart).
import { usd, usd2 } from './dom.js';

const PALETTE = ['#3559e0', '#16a34a', '#f59e0b', '#db2777', '#0891b2', '#7c3aed', '#ea580c', '#64748b', '#65a30d', '#be123c'];

/**
 * Draw (or redraw) a stacked bar chart on `canvas`: `series` maps a label (provider, model) to
 * its value per entry of `days`.
 */
export function stackedDaily(canvas, days, series, previous) {
  previous?.destroy();
  const datasets = [...series.entries()].map(([label, values], i) => ({
    label,
    data: values,
    backgroundColor: PALETTE[i % PALETTE.length],
    borderWidth: 0,
    borderRadius: 2,
  }));
  return new window.Chart(canvas, {
    type: 'bar',
    data: { labels: days.map((d) => d.slice(5)), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => usd2(v) } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${usd(ctx.parsed.y)}` } },
      },
    },
  });
}
