import { api } from '../api.js';
import { h, pageHeader, section, table, field, badge, fmtDate, timeAgo, dl } from '../dom.js';

// federation's catalog as the tenant sees it (project-manager's /api/v1/catalog): the entries
// naming one of the tenant's projects, with ONLINE/OFFLINE from federation's events.
export default async function catalog(ctx) {
  const [slug] = ctx.params;
  if (slug) return detail(ctx, slug);
  ctx.main.append(pageHeader('Catalog'));
  const status = field({ label: 'Status', name: 'status', options: [['', 'any'], ['ONLINE', 'ONLINE'], ['OFFLINE', 'OFFLINE']], testid: 'catalog-status' });
  const stats = h('p', { class: 'muted', 'data-testid': 'catalog-stats', 'aria-live': 'polite' });
  const list = table([
    { label: 'Service', render: (p) => h('a', { href: `#/catalog/${encodeURIComponent(p.slug)}` }, p.name || p.slug) },
    { label: 'Status', render: (p) => badge(p.status, 'federation-status') },
    { label: 'Last heartbeat', render: (p) => (p.last_heartbeat_at ? h('time', { datetime: p.last_heartbeat_at, title: fmtDate(p.last_heartbeat_at) }, timeAgo(p.last_heartbeat_at)) : '—') },
    { label: 'Since', render: (p) => fmtDate(p.changed_at) },
    { label: 'Project', render: (p) => (p.project_id ? h('a', { href: `#/projects/${encodeURIComponent(p.project_id)}` }, p.project_id.slice(0, 8)) : '—') },
  ], [], { caption: 'Catalog entries of your projects', testid: 'catalog-table', empty: 'No catalog entry names one of your projects.',
    rowAttrs: (p) => ({ 'data-testid': 'catalog-row', dataset: { slug: p.slug, status: p.status } }) });
  let entries = [];
  const show = () => {
    const wanted = status.input.value;
    const rows = wanted ? entries.filter((e) => e.status === wanted) : entries;
    list.setRows(rows);
    const online = entries.filter((e) => e.status === 'ONLINE').length;
    stats.textContent = `${entries.length} entries: ${online} ONLINE, ${entries.length - online} OFFLINE`;
  };
  status.input.addEventListener('change', show);
  ctx.main.append(stats, section('Services', h('div', { class: 'toolbar' }, status), list));
  entries = (await api('pm', '/api/v1/catalog', { signal: ctx.signal }))?.items ?? [];
  show();
}

async function detail(ctx, slug) {
  const p = await api('pm', `/api/v1/catalog/${encodeURIComponent(slug)}`, { signal: ctx.signal });
  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/catalog' }, 'Catalog'), ' / '),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, p.name || p.slug), h('div', { class: 'page-actions' }, badge(p.status, 'federation-status'))),
    dl([['Slug', h('code', null, p.slug)], ['Last heartbeat', fmtDate(p.last_heartbeat_at)], ['Status since', fmtDate(p.changed_at)],
      ['Last heard', fmtDate(p.updated_at)],
      p.project_id ? ['Fleet project', h('a', { href: `#/projects/${encodeURIComponent(p.project_id)}` }, p.project_id.slice(0, 8))] : null]),
    section('History', table([
      { label: 'When', render: (c) => fmtDate(c.changed_at) }, { label: 'From', render: (c) => badge(c.previous_status, 'history-from') },
      { label: 'To', render: (c) => badge(c.status, 'history-to') },
    ], p.history || [], { caption: 'Status history (newest first)', testid: 'catalog-history', empty: 'No status changes yet.' })));
}
