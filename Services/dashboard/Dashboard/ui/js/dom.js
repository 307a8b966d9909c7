// Tiny DOM helpers. Text from the APIs only ever goes in through text nodes / textContent.

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** Replaces control characters (NUL, ESC, …) by U+FFFD; keeps tab and newline. */
export function clean(value) {
  return String(value ?? '').replace(CONTROL, '\uFFFD');
}

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'indeterminate', 'multiple', 'open']);

/** h(tag, attrs, ...children): an element; attrs `on<event>` functions become listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = clean(v);
      else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = String(dv); }
      else if (k.startsWith('on')) { if (typeof v === 'function') el.addEventListener(k.slice(2), v); }
      else if (k === 'style' || k === 'srcdoc' || k === 'innerHTML') continue;
      else if (k === 'href') { const safe = safeHref(v); if (safe) el.setAttribute('href', safe); }
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(clean(c)));
  }
}

/** Only our own hash/relative links and http(s) links from the APIs. */
export function safeHref(url) {
  const s = String(url ?? '');
  if (s.startsWith('#') || s.startsWith('./') || (s.startsWith('/') && !s.startsWith('//'))) return s;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch { return null; }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let idSeq = 0;
export const uid = (prefix = 'f') => `${prefix}-${++idSeq}`;

/** Announces a status message in the polite live region. */
export function announce(message) {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = clean(message); });
}

// ---- formatting --------------------------------------------------------------------------

const pad = (n, w = 2) => String(n).padStart(w, '0');

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return clean(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function timeAgo(iso) {
  if (!iso) return '—';
  const diff = (Date.now() - new Date(iso).getTime()) / 1000;
  if (Number.isNaN(diff)) return clean(iso);
  if (diff < 60) return `${Math.max(0, Math.round(diff))} s ago`;
  if (diff < 3600) return `${Math.round(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.round(diff / 3600)} h ago`;
  return `${Math.round(diff / 86400)} d ago`;
}

/** A status badge; the class follows the status (lower-case, letters and dashes only). */
export function badge(status, testid = 'status-badge') {
  const s = String(status ?? 'unknown');
  const cls = s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return h('span', { class: `badge badge-${cls}`, 'data-testid': testid, dataset: { status: s } }, s.replace(/_/g, ' '));
}

// ---- structure -----------------------------------------------------------------------------

export function pageHeader(title, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), extra.length ? h('div', { class: 'page-actions' }, extra) : null);
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), children);
}

/** A table in a horizontally scrolling wrapper. columns: [{label, render(row) → node|string, class}] */
export function table(columns, rows, { caption, rowAttrs, empty = 'Nothing here yet.', testid } = {}) {
  const tbody = h('tbody');
  const t = h('table', { 'data-testid': testid },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    tbody);
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'Table' }, t);
  const emptyRow = () => h('tr', { class: 'empty' }, h('td', { colspan: String(columns.length) }, empty));
  const addRows = (items) => {
    if (tbody.firstChild?.classList?.contains('empty')) tbody.replaceChildren();
    for (const r of items) tbody.appendChild(h('tr', rowAttrs ? rowAttrs(r) : null, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.render(r)))));
  };
  const setRows = (items) => { tbody.replaceChildren(); if (!items.length) tbody.appendChild(emptyRow()); else addRows(items); };
  setRows(rows || []);
  wrap.setRows = setRows;
  wrap.addRows = addRows;
  wrap.tbody = tbody;
  return wrap;
}

/** A "Load more" pager over cursor pages: fetchPage(cursor) → {items, next_cursor}. */
export function pager(fetchPage, onItems, { label = 'Load more' } = {}) {
  let cursor = null;
  let busy = false;
  const status = h('span', { class: 'muted', role: 'status' });
  const button = h('button', { type: 'button', class: 'secondary', 'data-testid': 'load-more', hidden: true }, label);
  const el = h('div', { class: 'pager' }, button, status);
  async function load(first) {
    if (busy) return;
    busy = true;
    button.disabled = true;
    status.textContent = 'Loading…';
    try {
      const page = await fetchPage(first ? null : cursor);
      const items = page?.items ?? [];
      cursor = page?.next_cursor ?? null;
      onItems(items, first);
      status.textContent = '';
      button.hidden = !cursor;
    } catch (e) {
      status.textContent = problemText(e);
      throw e;
    } finally {
      busy = false;
      button.disabled = false;
    }
  }
  button.addEventListener('click', () => load(false).catch(() => {}));
  el.reload = () => load(true);
  return el;
}

export function problemText(e) {
  const p = e?.problem;
  if (p) return clean([p.title, p.detail].filter(Boolean).join(': '));
  return clean(e?.message || String(e));
}

/** An alert box for errors outside forms. */
export function alertBox(e) {
  return h('div', { class: 'alert', role: 'alert', 'data-testid': 'page-alert' }, problemText(e));
}

// ---- forms ---------------------------------------------------------------------------------

/**
 * A labelled form control. opts: {label, name (data-field path), type, value, options:[[value,label]],
 * textarea, required, hint, attrs, testid, id}
 */
export function field(opts) {
  const id = opts.id || uid('f');
  const common = { id, name: opts.name, 'data-field': opts.field ?? opts.name, 'data-testid': opts.testid, required: opts.required, ...opts.attrs };
  let input;
  if (opts.options) {
    input = h('select', common, opts.options.map(([v, l]) => h('option', { value: v, selected: String(opts.value ?? '') === String(v) }, l)));
  } else if (opts.textarea) {
    input = h('textarea', { ...common, rows: opts.rows || 3 });
    input.value = opts.value ?? '';
  } else {
    input = h('input', { ...common, type: opts.type || 'text' });
    if (opts.type === 'checkbox') input.checked = !!opts.value;
    else input.value = opts.value ?? '';
  }
  const hintId = opts.hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const label = h('label', { for: id }, opts.label);
  const wrap = opts.type === 'checkbox'
    ? h('div', { class: 'field check' }, input, label, hintId ? h('small', { id: hintId, class: 'hint' }, opts.hint) : null)
    : h('div', { class: 'field' }, label, input, hintId ? h('small', { id: hintId, class: 'hint' }, opts.hint) : null);
  wrap.input = input;
  return wrap;
}

/** A form with a form-level alert slot and a submit handler that shows problems. */
export function form({ onSubmit, testid, label, className }, ...children) {
  const alert = h('div', { class: 'alert form-alert', role: 'alert', 'data-testid': 'form-alert', hidden: true });
  const f = h('form', { novalidate: true, 'data-testid': testid, 'aria-label': label, class: className || 'form' }, alert, children);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const buttons = $$('button[type=submit]', f);
    buttons.forEach((b) => { b.disabled = true; });
    f.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(f, ev);
    } catch (e) {
      showErrors(f, e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      f.removeAttribute('aria-busy');
    }
  });
  return f;
}

export function clearErrors(f) {
  for (const el of $$('.field-error', f)) el.remove();
  for (const el of $$('[aria-invalid="true"]', f)) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== `${el.id}-error`);
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' ')); else el.removeAttribute('aria-describedby');
  }
  const alert = $('.form-alert', f);
  if (alert) { alert.hidden = true; alert.textContent = ''; }
}

/** Candidate field paths, most specific first: `a.b[2].c` → a.b[2].c, a.b[2], a.b, a */
export function fieldCandidates(path) {
  const out = [];
  let p = String(path || '');
  while (p) {
    out.push(p);
    const m = p.match(/^(.*)(\[\d+\]|\.[^.[\]]*)$/);
    if (!m) break;
    p = m[1];
  }
  return out;
}

/** The errors of a problem document: errors[] when present, else its field/detail. */
export function problemErrors(problem) {
  if (!problem) return [];
  if (Array.isArray(problem.errors) && problem.errors.length) {
    return problem.errors.map((e) => ({ field: e.field ?? e.pointer ?? null, detail: e.detail ?? e.message ?? problem.detail ?? problem.title }));
  }
  return [{ field: problem.field ?? null, detail: problem.detail ?? problem.title ?? 'Something went wrong' }];
}

/** Places each error of the problem beside its field (data-field), or in the form's alert. */
export function showErrors(f, e) {
  const p = e?.problem;
  const alert = $('.form-alert', f);
  const general = [];
  let first = null;
  const errors = p ? problemErrors(p) : [{ field: null, detail: e?.message || String(e) }];
  for (const err of errors) {
    let input = null;
    for (const cand of fieldCandidates(err.field)) {
      input = f.querySelector(`[data-field="${CSS.escape(cand)}"]`);
      if (input) break;
    }
    if (!input) { general.push(err.field ? `${err.field}: ${err.detail}` : err.detail); continue; }
    if (!input.id) input.id = uid('f');
    const errId = `${input.id}-error`;
    let msg = document.getElementById(errId);
    if (!msg) {
      msg = h('p', { class: 'field-error', id: errId, 'data-testid': 'field-error', dataset: { for: err.field } });
      (input.closest('.field') || input.parentElement).appendChild(msg);
      msg.textContent = clean(err.detail);
    } else {
      msg.textContent = `${msg.textContent} ${clean(err.detail)}`;
    }
    input.setAttribute('aria-invalid', 'true');
    const ids = new Set((input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
    ids.add(errId);
    input.setAttribute('aria-describedby', [...ids].join(' '));
    first ??= input;
  }
  if (general.length && alert) {
    alert.textContent = clean((p?.title && p.title !== general[0] ? `${p.title}: ` : '') + general.join(' · '));
    alert.hidden = false;
  }
  if (first) first.focus();
  else if (alert && !alert.hidden) alert.focus?.();
}

// ---- dialogs -------------------------------------------------------------------------------

/** Asks before something destructive. Resolves {ok, reason}. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', reason = false, reasonLabel = 'Reason', danger = true }) {
  return new Promise((resolve) => {
    const reasonField = reason ? field({ label: reasonLabel, name: 'reason', testid: 'confirm-reason' }) : null;
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : '', 'data-testid': 'confirm-ok', value: 'ok' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'secondary', 'data-testid': 'confirm-cancel' }, 'Cancel');
    const titleId = uid('dlg');
    const dlg = h('dialog', { 'aria-labelledby': titleId, 'data-testid': 'confirm-dialog', class: 'dialog' },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        message ? h('p', null, message) : null,
        reasonField,
        h('div', { class: 'actions' }, cancel, ok)));
    let result = { ok: false };
    cancel.addEventListener('click', () => dlg.close());
    dlg.querySelector('form').addEventListener('submit', () => { result = { ok: true, reason: reasonField?.input.value.trim() || undefined }; });
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.appendChild(dlg);
    dlg.showModal();
    (reasonField?.input || cancel).focus();
  });
}

/** A secret shown once, with a copy button. */
export function secretOnce(label, secret) {
  const code = h('code', { 'data-testid': 'secret-value' }, secret);
  const status = h('span', { role: 'status', class: 'muted' });
  const copy = h('button', { type: 'button', class: 'secondary', 'data-testid': 'copy-secret' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = 'Selected: press Ctrl+C to copy.';
    }
  });
  return h('div', { class: 'secret-once', 'data-testid': 'secret-once', role: 'region', 'aria-label': label },
    h('p', null, h('strong', null, label), ' — shown only once; store it now.'), h('div', { class: 'secret-row' }, code, copy, status));
}

export function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

export function link(href, text, attrs) {
  return h('a', { href, ...attrs }, text);
}

/** A random UUID (v4), also outside secure contexts. */
export function uuid4() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((n) => n.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A deployment's version as shown: releases are already `v3`; an image tag `1.2` becomes `v1.2`. */
export const versionLabel = (v) => (v == null || v === '' ? '' : /^v\d/i.test(String(v)) ? String(v) : `v${v}`);

/** Comma- or newline-separated words → a list without blanks. */
export const splitList = (s) => String(s ?? '').split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
