/**
 * Markup blocks several dashboard views share: a panel with a data table, the UTC date-range form,
 * the totals row and the chart panel. Ids and words stay with the callers (the page scripts and the
 * browser tests find elements by them; CONTRACT §10 fixes the words).
 */
/** A table column heading: its words, or its words and a class (`num`, `hide-phone`). */
export type Column = string | readonly [label: string, cls: string];

/** A numeric (right-aligned) column heading. */
export const num = (label: string): Column => [label, 'num'];

/** A panel holding a card-style table: a header row, and an empty body the page script fills. */
export function TablePanel(props: { id: string; title?: string; columns: readonly Column[] }) {
  return (
    <section class="panel">
      {props.title && <h2>{props.title}</h2>}
      <div class="table-wrap">
        <table id={props.id} class="cards">
          <thead>
            <tr>
              {props.columns.map((c) => (typeof c === 'string' ? <th>{c}</th> : <th class={c[1]}>{c[0]}</th>))}
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
  );
}

/** The From/To UTC date form (`#range`, driven by assets/report.js) with a CSV download link. */
export function RangeForm(props: { csvHref: string }) {
  return (
    <form class="inline" id="range">
      <div class="field">
        <label for="from">From</label>
        <input type="date" id="from" name="from" required />
      </div>
      <div class="field">
        <label for="to">To</label>
        <input type="date" id="to" name="to" required />
      </div>
      <button type="submit">Show</button>
      <a class="button secondary" id="csv" href={props.csvHref} download>
        Download CSV
      </a>
    </form>
  );
}

/** A row of four figures; the script writes each into `[data-total="<label>"]`. */
export function Totals(props: { labels: readonly string[]; label?: string }) {
  return (
    <div class="grid-4" id="totals" aria-label={props.label}>
      {props.labels.map((label) => (
        <div class="panel stat">
          <div class="label">{label}</div>
          <div class="value" data-total={label}>
            —
          </div>
        </div>
      ))}
    </div>
  );
}

/** The stacked daily chart (`#chart`), and the words shown instead when the range is empty. */
export function ChartPanel(props: { title: string; label: string }) {
  return (
    <section class="panel">
      <h2>{props.title}</h2>
      <div class="chart-box">
        <canvas id="chart" role="img" aria-label={props.label}></canvas>
      </div>
      <p class="empty" id="chart-empty" hidden>
        No tasks in this range yet.
      </p>
    </section>
  );
}
