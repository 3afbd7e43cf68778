// Small DOM helpers: elements are built with text nodes only (never innerHTML), so nothing the
// API returns can become markup.

/** h('td', {class: 'num'}, '1.00') → element. Attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Show an error in the page's role="alert" element (or clear it with null). */
export function showError(el, err) {
  el.textContent = err ? (err.message || String(err)) : '';
}

/** A loading row / empty row for a table body of `cols` columns. */
export const loadingRow = (cols, text = 'Loading…') => h('tr', {}, h('td', { colspan: cols, class: 'empty' }, h('span', { class: 'loading' }, text)));
export const emptyRow = (cols, text) => h('tr', {}, h('td', { colspan: cols, class: 'empty' }, text));

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 6 });
const money2 = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** USD with at least 2 decimals and up to the API's 6 (so $0.1134/s stays exact). */
export const usd = (n) => (n === null || n === undefined ? '—' : money.format(n));
/** USD rounded to cents, for chart axes. */
export const usd2 = (n) => money2.format(n);

export const pct = (n) => (n === null || n === undefined ? '—' : `${Math.round(n * 1000) / 10}%`);
export const secs = (n) => (n === null || n === undefined ? '—' : n < 90 ? `${Math.round(n * 10) / 10} s` : `${Math.round(n / 6) / 10} min`);
export const when = (unix) => (unix ? new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—');
export const badge = (text, kind = text) => h('span', { class: `badge ${kind}` }, text);

/** Today and the first of this month, as UTC dates (YYYY-MM-DD). */
export function monthToDate(now = new Date()) {
  const to = now.toISOString().slice(0, 10);
  return { from: `${to.slice(0, 8)}01`, to };
}

/** Every UTC date from `from` to `to`, inclusive. */
export function daysBetween(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * Fill a table body and label every cell with its column's heading (data-label), so the phone
 * layout can show each row as a card of "heading: value" lines.
 */
export function fillTable(tbody, rows) {
  fill(tbody, rows);
  const heads = [...tbody.closest('table').querySelectorAll('thead th')].map((th) => th.textContent.trim());
  for (const tr of tbody.rows) {
    if (tr.cells.length !== heads.length) continue;
    [...tr.cells].forEach((td, i) => heads[i] && td.setAttribute('data-label', heads[i]));
  }
  return tbody;
}
