// A virtualised log viewer: fixed row height, only the visible rows (plus overscan) in the DOM,
// a spacer for the full height, appends batched per animation frame, at most `capacity` lines.
import { h } from './dom.js';

export const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 };
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
const CTRL = /[\u0000-\u0008\u000B-\u001F\u007F]/g;

/** A message as one display line: ANSI colour codes dropped, controls shown as symbols. */
export function displayText(s) {
  let t = String(s ?? '');
  if (t.includes('\u001b')) t = t.replace(ANSI, '');
  t = t.replace(/\r?\n/g, ' ⏎ ');
  return t.replace(CTRL, (c) => (c === '\u007f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))));
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso).slice(0, 12);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** An API entry (or a plain string) → the line kept. */
export function toLine(x) {
  if (typeof x === 'string') return { id: null, iso: '', t: '', level: 'info', text: displayText(x), src: '' };
  const level = LEVELS[x?.level] !== undefined ? x.level : 'info';
  return {
    id: x?.id ?? null,
    iso: x?.timestamp ?? '',
    t: x?.marker ? '' : shortTime(x?.timestamp),
    level: x?.marker ? 'marker' : level,
    text: displayText(x?.message ?? ''),
    src: x?.flukedeploy_metadata?.phase || x?.source?.component || '',
    marker: !!x?.marker,
  };
}

/** A ring of at most `capacity` lines addressed by absolute sequence numbers. */
export class LineStore {
  constructor(capacity) { this.cap = capacity; this.buf = new Array(Math.min(capacity, 1024)); this.head = 0; this.tail = 0; }
  get size() { return this.tail - this.head; }
  push(line) {
    const seq = this.tail++;
    if (this.buf.length < this.cap && seq >= this.buf.length) this.buf.length = Math.min(this.cap, Math.max(this.buf.length * 2, seq + 1));
    this.buf[seq % this.cap] = line;
    if (this.tail - this.head > this.cap) this.head = this.tail - this.cap;
    return seq;
  }
  get(seq) { return seq >= this.head && seq < this.tail ? this.buf[seq % this.cap] : undefined; }
  *lines() { for (let s = this.head; s < this.tail; s++) yield this.buf[s % this.cap]; }
  clear() { this.buf = new Array(Math.min(this.cap, 1024)); this.head = 0; this.tail = 0; }
}

export class LogView {
  constructor({ capacity = 100000, rowHeight = 20, overscan = 12, label = 'Log lines', filename = 'logs.txt', height } = {}) {
    this.store = new LineStore(capacity);
    this.rowH = rowHeight;
    this.overscan = overscan;
    this.filename = filename;
    this.pending = [];
    this.scheduled = false;
    this.auto = true;
    this.minLevel = -1;
    this.query = '';
    this.view = null; // filtered: sequence numbers of matching lines
    this.viewStart = 0;
    this.pool = [];
    this.lastTop = 0;
    this.spacerH = -1;
    this.stats = { flushes: 0, appended: 0, renders: 0, maxFlushMs: 0, totalFlushMs: 0, dropped: 0 };
    this.build(label, height);
  }

  build(label, height) {
    this.levelSel = h('select', { id: `lv-level-${Math.random().toString(36).slice(2, 8)}`, 'data-testid': 'logview-level' },
      h('option', { value: '-1' }, 'all levels'), ...Object.keys(LEVELS).map((l) => h('option', { value: String(LEVELS[l]) }, `${l} and above`)));
    this.searchIn = h('input', { type: 'search', id: `${this.levelSel.id}-q`, 'data-testid': 'logview-search', placeholder: 'text in the message' });
    this.count = h('span', { class: 'lv-count muted', 'data-testid': 'logview-count' }, '0 lines');
    this.jump = h('button', { type: 'button', class: 'lv-jump', hidden: true, 'data-testid': 'logview-jump' }, 'Jump to latest ↓');
    const download = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'logview-download' }, 'Download .txt');
    this.spacer = h('div', { class: 'lv-spacer' });
    this.rows = h('div', { class: 'lv-rows' });
    this.viewport = h('div', { class: 'lv-viewport', tabindex: '0', role: 'region', 'aria-label': label, 'data-testid': 'log-lines' }, this.spacer, this.rows);
    this.viewport.style.setProperty('--lv-row', `${this.rowH}px`);
    if (height) this.viewport.style.height = height;
    this.el = h('section', { class: 'logview', 'data-testid': 'logview' },
      h('div', { class: 'lv-toolbar' },
        h('label', { for: this.levelSel.id }, 'Level'), this.levelSel,
        h('label', { for: this.searchIn.id }, 'Filter'), this.searchIn,
        download, this.count),
      h('div', { class: 'lv-frame' }, this.viewport, this.jump));

    this.levelSel.addEventListener('change', () => { this.minLevel = Number(this.levelSel.value); this.refilter(); });
    let t = 0;
    this.searchIn.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => { this.query = this.searchIn.value.toLowerCase(); this.refilter(); }, 150); });
    download.addEventListener('click', () => this.download());
    this.jump.addEventListener('click', () => { this.setAuto(true); this.schedule(); this.viewport.focus(); });
    this.viewport.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.viewport.addEventListener('wheel', (e) => { if (e.deltaY < 0) this.setAuto(false); }, { passive: true });
    this.viewport.addEventListener('keydown', (e) => { if (['ArrowUp', 'PageUp', 'Home'].includes(e.key)) this.setAuto(false); });
    this.viewport.addEventListener('pointerdown', () => { this.pointer = true; });
    window.addEventListener('pointerup', this.onPointerUp = () => { this.pointer = false; });
  }

  destroy() { window.removeEventListener('pointerup', this.onPointerUp); this.destroyed = true; }

  /** Adds entries (API log entries or strings); shown on the next animation frame. */
  append(entries) {
    if (!entries) return;
    if (Array.isArray(entries)) { for (const e of entries) this.pending.push(e); } else this.pending.push(entries);
    this.schedule();
  }

  /** A marker line (a gap, a reconnect). */
  mark(text) { this.append({ marker: true, message: text }); }

  schedule() {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  matches(line) {
    if (line.marker) return true;
    if (this.minLevel >= 0 && (LEVELS[line.level] ?? 1) < this.minLevel) return false;
    return !this.query || line.text.toLowerCase().includes(this.query);
  }

  get filtered() { return this.minLevel >= 0 || this.query !== ''; }

  flush() {
    this.scheduled = false;
    const t0 = performance.now();
    const batch = this.pending;
    this.pending = [];
    const headBefore = this.store.head;
    const visBefore = this.visibleCount();
    for (const e of batch) {
      const line = toLine(e);
      const seq = this.store.push(line);
      if (this.view && this.matches(line)) this.view.push(seq);
    }
    this.stats.appended += batch.length;
    const removed = this.store.head - headBefore;
    if (removed > 0) {
      this.stats.dropped += removed;
      let shift = removed;
      if (this.view) {
        const before = this.viewStart;
        while (this.viewStart < this.view.length && this.view[this.viewStart] < this.store.head) this.viewStart++;
        shift = this.viewStart - before;
        if (this.viewStart > 50000) { this.view = this.view.slice(this.viewStart); this.viewStart = 0; }
      }
      // keep the lines a person is reading in place while older ones are dropped
      if (!this.auto && shift > 0) { this.viewport.scrollTop = Math.max(0, this.viewport.scrollTop - shift * this.rowH); this.lastTop = this.viewport.scrollTop; }
    }
    this.render(visBefore);
    const dt = performance.now() - t0;
    this.stats.flushes++;
    this.stats.totalFlushMs += dt;
    if (dt > this.stats.maxFlushMs) this.stats.maxFlushMs = dt;
  }

  visibleCount() { return this.view ? this.view.length - this.viewStart : this.store.size; }
  seqAt(i) { return this.view ? this.view[this.viewStart + i] : this.store.head + i; }

  render() {
    this.stats.renders++;
    const n = this.visibleCount();
    const total = n * this.rowH;
    if (total !== this.spacerH) { this.spacer.style.height = `${total}px`; this.spacerH = total; }
    const vp = this.viewport;
    const vh = vp.clientHeight || 400;
    if (this.auto) {
      const top = Math.max(0, total - vh);
      if (Math.abs(vp.scrollTop - top) > 1) vp.scrollTop = top;
      this.lastTop = top;
    }
    const top = vp.scrollTop;
    const first = Math.max(0, Math.floor(top / this.rowH) - this.overscan);
    const last = Math.min(n, Math.ceil((top + vh) / this.rowH) + this.overscan);
    const need = Math.max(0, last - first);
    while (this.pool.length < need) {
      const row = h('div', { class: 'lv-row', 'data-testid': 'log-line' }, h('span', { class: 'lv-t' }), h('span', { class: 'lv-l' }), h('span', { class: 'lv-m' }));
      row._seq = -1;
      this.rows.appendChild(row);
      this.pool.push(row);
    }
    this.rows.style.transform = `translateY(${first * this.rowH}px)`;
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      if (i >= need) { if (!row.hidden) { row.hidden = true; row._seq = -1; } continue; }
      if (row.hidden) row.hidden = false;
      const seq = this.seqAt(first + i);
      if (row._seq === seq) continue;
      const line = this.store.get(seq);
      row._seq = seq;
      if (!line) continue;
      row.className = `lv-row lv-${line.level}`;
      row.dataset.level = line.level;
      const [t, l, m] = row.children;
      t.textContent = line.t;
      l.textContent = line.marker ? '' : line.level.toUpperCase();
      m.textContent = line.text;
    }
    this.count.textContent = this.filtered ? `${n} of ${this.store.size} lines` : `${n} lines`;
  }

  onScroll() {
    const vp = this.viewport;
    const top = vp.scrollTop;
    const atBottom = top + vp.clientHeight >= vp.scrollHeight - this.rowH;
    if (atBottom && !this.pointer) this.setAuto(true);
    else if (!atBottom && (top < this.lastTop - 1 || this.pointer)) this.setAuto(false);
    this.lastTop = top;
    this.schedule();
  }

  setAuto(on) {
    if (this.auto === on) return;
    this.auto = on;
    this.jump.hidden = on;
    this.el.dataset.autoscroll = String(on);
  }

  refilter() {
    if (!this.filtered) this.view = null;
    else {
      const v = [];
      for (let s = this.store.head; s < this.store.tail; s++) if (this.matches(this.store.get(s))) v.push(s);
      this.view = v;
    }
    this.viewStart = 0;
    for (const row of this.pool) row._seq = -1;
    this.schedule();
  }

  /** Puts entries right after the line with id `afterId` (a filled gap); entries already shown are skipped. */
  insertAfter(afterId, entries) {
    this.flushPendingNow();
    const lines = [...this.store.lines()];
    const have = new Set(lines.map((l) => l.id).filter(Boolean));
    const fresh = entries.filter((e) => !e.id || !have.has(e.id)).map(toLine);
    let at = afterId ? lines.findIndex((l) => l.id === afterId) : -1;
    at = at < 0 ? lines.length : at + 1;
    lines.splice(at, 0, ...fresh);
    this.store.clear();
    for (const l of lines) this.store.push(l);
    this.refilter();
    return fresh.length;
  }

  flushPendingNow() { if (this.pending.length) this.flush(); }

  clear() { this.pending = []; this.store.clear(); this.refilter(); }

  /** All lines (as filtered) as text. */
  text() {
    const out = [];
    const n = this.visibleCount();
    for (let i = 0; i < n; i++) {
      const l = this.store.get(this.seqAt(i));
      if (l) out.push(l.marker ? `-- ${l.text} --` : `${l.iso} ${l.level.toUpperCase().padEnd(5)} ${l.text}`);
    }
    return out.join('\n') + '\n';
  }

  download() {
    const url = URL.createObjectURL(new Blob([this.text()], { type: 'text/plain;charset=utf-8' }));
    const a = h('a', { href: './', download: this.filename });
    a.href = url;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  /** What the browser test reads. */
  frameStats() {
    return {
      lines: this.store.size,
      visible: this.visibleCount(),
      appended: this.stats.appended,
      dropped: this.stats.dropped,
      flushes: this.stats.flushes,
      renders: this.stats.renders,
      maxFlushMs: Math.round(this.stats.maxFlushMs * 100) / 100,
      avgFlushMs: this.stats.flushes ? Math.round((this.stats.totalFlushMs / this.stats.flushes) * 100) / 100 : 0,
      domRows: this.rows.childElementCount,
      autoScroll: this.auto,
    };
  }
}
