// A small SVG bar chart (stacked series), with a data table for screen readers.
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** A "nice" upper bound for the y axis. */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** Fills the days missing from `days` (newest first, {day: YYYY-MM-DD}) with zeros; oldest first. */
export function lastDays(days, count = 30, today = new Date()) {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const out = [];
  for (let i = count - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
    const key = d.toISOString().slice(0, 10);
    out.push(byDay.get(key) || { day: key });
  }
  return out;
}

/**
 * barChart({title, rows: [{label, values: {key: n}}], series: [{key, name, cls}], height})
 * → <figure> with the SVG, a legend and the numbers as a table.
 */
export function barChart({ title, rows, series, height = 180, testid = 'chart' }) {
  const W = Math.max(300, rows.length * 24 + 40);
  const H = height;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const plotH = H - bottom - top;
  const totals = rows.map((r) => series.reduce((a, sr) => a + (Number(r.values[sr.key]) || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const bw = (W - left - 4) / Math.max(1, rows.length);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title, preserveAspectRatio: 'none' });
  svg.appendChild(s('title', {}, title));
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    svg.appendChild(s('line', { x1: left, x2: W, y1: y, y2: y, class: 'grid' }));
    svg.appendChild(s('text', { x: left - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, String(Math.round(max * f))));
  }
  const step = Math.ceil(rows.length / 8);
  rows.forEach((r, i) => {
    let y = top + plotH;
    const x = left + i * bw + 2;
    const g = s('g', { class: 'bar' });
    for (const sr of series) {
      const v = Number(r.values[sr.key]) || 0;
      if (!v) continue;
      const bh = (v / max) * plotH;
      y -= bh;
      g.appendChild(s('rect', { x, y, width: Math.max(1, bw - 4), height: bh, class: sr.cls }, s('title', {}, `${r.label}: ${sr.name} ${v}`)));
    }
    svg.appendChild(g);
    if (i % step === 0) svg.appendChild(s('text', { x: x + (bw - 4) / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' }, r.short ?? r.label));
  });
  const legend = h('ul', { class: 'legend' }, series.map((sr) => h('li', null, h('span', { class: `swatch ${sr.cls}`, 'aria-hidden': 'true' }), sr.name)));
  const tbl = h('div', { class: 'table-wrap' }, h('table', null,
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'), series.map((sr) => h('th', { scope: 'col' }, sr.name)))),
    h('tbody', null, rows.filter((r, i) => totals[i] > 0).map((r) => h('tr', null, h('td', null, r.label), series.map((sr) => h('td', { class: 'num' }, String(r.values[sr.key] || 0))))))));
  return h('figure', { class: 'chart-figure', 'data-testid': testid }, h('div', { class: 'chart-box' }, svg), h('figcaption', null, title), legend,
    h('details', null, h('summary', null, 'Numbers'), tbl));
}
