import { api } from '../api.js';
import { h, field, form, pager, badge, fmtDate, confirmDialog, announce, problemText, splitList, uuid4, table } from '../dom.js';

const TYPES = ['fact', 'convention', 'gotcha', 'decision'];
const MEM = '/api/v1/flukebase_connect/memories';

export default async function memoriesTab(ctx) {
  const { panel, project } = ctx;
  const q = { project_id: project.id };
  const status = h('p', { class: 'muted', role: 'status' });
  const listEl = h('div', { class: 'memories', 'data-testid': 'memory-list' });
  const conflictsEl = h('div', { 'data-testid': 'memory-conflicts' });

  // ---- search ----
  const search = field({ label: 'Search', name: 'q', type: 'search', testid: 'memory-search' });
  const typeFilter = field({ label: 'Type', name: 'memory_type', options: [['', 'any'], ...TYPES.map((t) => [t, t])], testid: 'memory-type-filter' });
  const tagFilter = field({ label: 'Tag', name: 'tag', testid: 'memory-tag-filter' });
  const more = pager((cursor) => api('context', MEM, { query: { ...q, q: search.input.value.trim(), memory_type: typeFilter.input.value, tag: tagFilter.input.value.trim(), limit: 50, cursor }, signal: ctx.signal }),
    (items, first) => {
      if (first) listEl.replaceChildren();
      for (const m of items) listEl.append(card(m));
      if (first && !items.length) listEl.append(h('p', { class: 'muted' }, 'No memories match.'));
    });
  const searchForm = form({ label: 'Search memories', onSubmit: () => more.reload() },
    h('div', { class: 'grid3' }, search, typeFilter, tagFilter), h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary', 'data-testid': 'memory-search-submit' }, 'Search')));

  // ---- create ----
  const type = field({ label: 'Type', name: 'memory_type', options: TYPES.map((t) => [t, t]), testid: 'memory-type' });
  const content = field({ label: 'Content', name: 'content', textarea: true, rows: 4, required: true, testid: 'memory-content' });
  const tags = field({ label: 'Tags', name: 'tags', testid: 'memory-tags', hint: 'Comma-separated.' });
  const createForm = form({
    label: 'New memory',
    testid: 'memory-form',
    onSubmit: async () => {
      const m = await api('context', MEM, { method: 'POST', query: q, body: { external_id: uuid4(), memory_type: type.input.value, content: content.input.value, tags: splitList(tags.input.value) } });
      content.input.value = '';
      tags.input.value = '';
      announce('Memory saved.');
      listEl.querySelector('p.muted')?.remove();
      listEl.append(card(m));
    },
  }, type, content, tags, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'memory-submit' }, 'Save memory')));

  // ---- one memory ----
  function card(m) {
    const el = h('article', { class: 'memory card', 'data-testid': 'memory-item', dataset: { memoryId: m.id, version: m.version } });
    show(el, m);
    return el;
  }

  function show(el, m) {
    el.dataset.version = m.version;
    const edit = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'memory-edit' }, 'Edit');
    const del = h('button', { type: 'button', class: 'danger small', 'data-testid': 'memory-delete' }, 'Delete');
    edit.addEventListener('click', () => editor(el, m));
    del.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: 'Delete this memory?', message: 'It is removed for every tool that syncs this project.', confirmLabel: 'Delete' });
      if (!ok) return;
      try {
        await api('context', `${MEM}/${encodeURIComponent(m.id)}`, { method: 'DELETE', query: q, headers: { 'If-Match': `"${m.version}"` } });
        el.remove();
        announce('Memory deleted.');
      } catch (e) {
        status.textContent = problemText(e);
      }
    });
    el.replaceChildren(
      h('header', null, badge(m.memory_type, 'memory-type-badge'), h('span', { class: 'muted small' }, ` v${m.version} · updated ${fmtDate(m.updated_at)}`)),
      h('p', { class: 'memory-content', 'data-testid': 'memory-text' }, m.content),
      m.tags?.length ? h('ul', { class: 'tags' }, m.tags.map((t) => h('li', null, t))) : null,
      h('div', { class: 'row-actions' }, edit, del));
  }

  function editor(el, m, draft) {
    const t = field({ label: 'Type', name: 'memory_type', options: TYPES.map((x) => [x, x]), value: draft?.memory_type ?? m.memory_type });
    const c = field({ label: 'Content', name: 'content', textarea: true, rows: 4, value: draft?.content ?? m.content, testid: 'memory-edit-content' });
    const tg = field({ label: 'Tags', name: 'tags', value: (draft?.tags ?? m.tags ?? []).join(', ') });
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    cancel.addEventListener('click', () => show(el, m));
    const f = form({
      label: 'Edit memory',
      onSubmit: async () => {
        const body = { memory_type: t.input.value, content: c.input.value, tags: splitList(tg.input.value) };
        try {
          const r = await api('context', `${MEM}/${encodeURIComponent(m.id)}`, { method: 'PUT', query: q, body, headers: { 'If-Match': `"${m.version}"` }, full: true });
          afterSave(el, r);
        } catch (e) {
          if (e.status === 412 || e.status === 409) return conflict(el, m, body);
          throw e;
        }
      },
    }, t, c, tg, h('div', { class: 'actions' }, cancel, h('button', { type: 'submit', 'data-testid': 'memory-save' }, 'Save')));
    el.replaceChildren(f);
    c.input.focus();
  }

  function afterSave(el, r) {
    show(el, r.data);
    const conflictId = r.headers.get('Fluke-Conflict');
    if (conflictId) {
      el.prepend(h('p', { class: 'notice', role: 'status', 'data-testid': 'memory-conflict-notice' },
        'This edit met a concurrent change; the newer copy was kept and the other one is listed under "Losing copies".'));
      loadConflicts();
    } else announce('Memory updated.');
  }

  // The memory changed since it was loaded: show both versions and let the person choose.
  async function conflict(el, base, mine) {
    let server;
    try {
      server = await api('context', `${MEM}/${encodeURIComponent(base.id)}`, { query: q });
    } catch (e) { status.textContent = problemText(e); return; }
    const keepMine = h('button', { type: 'button', 'data-testid': 'conflict-keep-mine' }, 'Keep my version');
    const keepServer = h('button', { type: 'button', class: 'secondary', 'data-testid': 'conflict-keep-server' }, 'Keep the server version');
    const merge = h('button', { type: 'button', class: 'secondary', 'data-testid': 'conflict-edit' }, 'Edit again from the server version');
    keepMine.addEventListener('click', async () => {
      try {
        // No If-Match and the base version: the newer updated_at (now) wins; the server copy is kept as a losing copy.
        const r = await api('context', `${MEM}/${encodeURIComponent(base.id)}`, { method: 'PUT', query: q, body: { ...mine, version: base.version, updated_at: new Date().toISOString() }, full: true });
        afterSave(el, r);
      } catch (e) { status.textContent = problemText(e); }
    });
    keepServer.addEventListener('click', () => { show(el, server); announce('Kept the server version.'); });
    merge.addEventListener('click', () => editor(el, server, mine));
    const side = (title, m) => h('div', { class: 'version' }, h('h4', null, title), badge(m.memory_type, 'memory-type-badge'), h('p', { class: 'memory-content' }, m.content), h('p', { class: 'muted small' }, (m.tags || []).join(', ')));
    el.replaceChildren(h('div', { role: 'alert', class: 'conflict', 'data-testid': 'memory-conflict' },
      h('p', null, h('strong', null, 'Someone changed this memory while you were editing.')),
      h('div', { class: 'versions' }, side('Your version', mine), side(`On the server (v${server.version}, ${fmtDate(server.updated_at)})`, server)),
      h('div', { class: 'actions' }, keepServer, merge, keepMine)));
    keepServer.focus();
  }

  // ---- losing copies ----
  async function loadConflicts() {
    try {
      const page = await api('context', `${MEM}/conflicts`, { query: { ...q, limit: 50 } });
      const items = page.items || [];
      conflictsEl.replaceChildren(table([
        { label: 'When', render: (x) => fmtDate(x.created_at) },
        { label: 'Memory', render: (x) => h('code', null, x.memory_id.slice(0, 8)) },
        { label: 'Winner', render: (x) => x.winner },
        { label: 'Losing copy', render: (x) => h('div', null, badge(x.losing.memory_type, 'memory-type-badge'), ' ', h('span', { class: 'memory-content' }, x.losing.content), x.losing.tags?.length ? h('span', { class: 'muted small' }, ` [${x.losing.tags.join(', ')}]`) : null) },
        { label: 'Versions', render: (x) => `${x.base_version ?? '—'} → ${x.resolved_version}` },
        { label: 'Actions', render: (x) => restoreButton(x) },
      ], items, { caption: 'Losing copies', empty: 'No conflicts.', rowAttrs: () => ({ 'data-testid': 'conflict-row' }) }));
    } catch (e) { conflictsEl.replaceChildren(h('p', { class: 'muted' }, problemText(e))); }
  }

  function restoreButton(x) {
    const b = h('button', { type: 'button', class: 'secondary small' }, 'Restore this copy');
    b.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: 'Restore the losing copy?', message: 'It replaces the memory\'s current content.', confirmLabel: 'Restore', danger: false });
      if (!ok) return;
      try {
        const cur = await api('context', `${MEM}/${encodeURIComponent(x.memory_id)}`, { query: q });
        await api('context', `${MEM}/${encodeURIComponent(x.memory_id)}`, { method: 'PUT', query: q, headers: { 'If-Match': `"${cur.version}"` }, body: { memory_type: x.losing.memory_type, content: x.losing.content, tags: x.losing.tags } });
        announce('Copy restored.');
        await more.reload();
      } catch (e) { status.textContent = problemText(e); }
    });
    return b;
  }

  panel.append(h('h2', null, 'Memories'),
    h('div', { class: 'card' }, h('h3', null, 'New memory'), createForm),
    h('div', { class: 'card' }, searchForm), status, listEl, more,
    h('details', { class: 'card' }, h('summary', null, 'Losing copies (conflicts)'), conflictsEl));
  await more.reload();
  loadConflicts();
}
