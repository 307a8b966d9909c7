import { api } from '../api.js';
import { h, pageHeader, section, table, pager, field, badge, fmtDate, timeAgo, dl, link } from '../dom.js';

export default async function catalog(ctx) {
  const [slug] = ctx.params;
  if (slug) return detail(ctx, slug);
  ctx.main.append(pageHeader('Catalog'));
  const status = field({ label: 'Status', name: 'status', options: [['', 'any'], ['ONLINE', 'ONLINE'], ['OFFLINE', 'OFFLINE'], ['UNKNOWN', 'UNKNOWN']], testid: 'catalog-status' });
  const tag = field({ label: 'Tag', name: 'tag', testid: 'catalog-tag' });
  const stats = h('p', { class: 'muted', 'data-testid': 'catalog-stats' });
  const list = table([
    { label: 'Project', render: (p) => h('a', { href: `#/catalog/${encodeURIComponent(p.slug)}` }, p.name || p.slug) },
    { label: 'Status', render: (p) => badge(p.status, 'federation-status') },
    { label: 'Last heartbeat', render: (p) => (p.last_heartbeat_at ? h('time', { datetime: p.last_heartbeat_at, title: fmtDate(p.last_heartbeat_at) }, timeAgo(p.last_heartbeat_at)) : '—') },
    { label: 'Since', render: (p) => fmtDate(p.status_changed_at) },
    { label: 'Instances', class: 'num', render: (p) => String(p.instances?.length ?? 0) },
    { label: 'Tags', render: (p) => (p.tags || []).join(', ') },
    { label: 'Owner', render: (p) => p.owner || '—' },
  ], [], { caption: 'Federated projects', testid: 'catalog-table', rowAttrs: (p) => ({ 'data-testid': 'catalog-row', dataset: { slug: p.slug, status: p.status } }) });
  const more = pager((cursor) => api('fed', '/api/fed/projects', { query: { status: status.input.value, tag: tag.input.value.trim(), limit: 50, cursor }, signal: ctx.signal }),
    (items, first) => (first ? list.setRows(items) : list.addRows(items)));
  status.input.addEventListener('change', () => more.reload().catch(() => {}));
  tag.input.addEventListener('change', () => more.reload().catch(() => {}));
  ctx.main.append(stats, section('Projects', h('div', { class: 'toolbar' }, status, tag), list, more));
  api('fed', '/api/fed/stats', { signal: ctx.signal }).then((s) => {
    stats.textContent = `${s.total} projects: ${Object.entries(s.by_status || {}).map(([k, v]) => `${v} ${k}`).join(', ')}`;
  }).catch(() => {});
  await more.reload();
}

async function detail(ctx, slug) {
  const p = await api('fed', `/api/fed/projects/${encodeURIComponent(slug)}`, { signal: ctx.signal });
  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/catalog' }, 'Catalog'), ' / '),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, p.name || p.slug), h('div', { class: 'page-actions' }, badge(p.status, 'federation-status'))),
    p.description ? h('p', { class: 'lead' }, p.description) : null,
    dl([['Slug', h('code', null, p.slug)], ['Owner', p.owner], ['Repository', p.repository ? link(p.repository, p.repository, { rel: 'noopener noreferrer', target: '_blank' }) : '—'],
      ['Tags', (p.tags || []).join(', ') || '—'], ['Last heartbeat', fmtDate(p.last_heartbeat_at)], ['Status since', fmtDate(p.status_changed_at)],
      p.project_id ? ['Fleet project', h('a', { href: `#/projects/${encodeURIComponent(p.project_id)}` }, p.project_id.slice(0, 8))] : null]),
    section('Instances', table([
      { label: 'Instance', render: (i) => h('code', null, i.instance_id) }, { label: 'Version', render: (i) => i.version },
      { label: 'Last heartbeat', render: (i) => fmtDate(i.last_heartbeat_at) }, { label: 'Metadata', render: (i) => (i.metadata ? h('code', null, JSON.stringify(i.metadata)) : '') },
    ], p.instances || [], { caption: 'Instances', empty: 'No instance heard from within the heartbeat TTL.' })),
    section('History', table([
      { label: 'When', render: (c) => fmtDate(c.at) }, { label: 'From', render: (c) => badge(c.from, 'history-from') },
      { label: 'To', render: (c) => badge(c.to, 'history-to') }, { label: 'Reason', render: (c) => c.reason },
    ], p.history || [], { caption: 'Status history (newest first)', testid: 'catalog-history', empty: 'No status changes yet.' })));
}
