import { api } from '../api.js';
import { h, table, fmtDate, timeAgo, field } from '../dom.js';
import { barChart, lastDays } from '../chart.js';

export default async function usageTab(ctx) {
  const { panel, project } = ctx;
  const pid = encodeURIComponent(project.id);
  const showAll = field({ label: 'Include every installation', type: 'checkbox', name: 'all', testid: 'installations-all' });
  const inst = table([
    { label: 'Client', render: (i) => h('code', null, i.client_id) },
    { label: 'User agent', render: (i) => i.user_agent },
    { label: 'Version', render: (i) => i.version || '—' },
    { label: 'First seen', render: (i) => fmtDate(i.first_seen) },
    { label: 'Last seen', render: (i) => timeAgo(i.last_seen) },
    { label: 'Context fetches', class: 'num', render: (i) => String(i.context_fetches) },
    { label: 'Memory syncs', class: 'num', render: (i) => String(i.memory_syncs) },
    { label: 'Last sync', render: (i) => fmtDate(i.last_sync_at) },
  ], [], { caption: 'Installations', testid: 'installations-table', rowAttrs: () => ({ 'data-testid': 'installation-row' }) });
  const loadInst = async () => {
    const page = await api('context', `/api/v1/projects/${pid}/installations`, { query: { all: showAll.input.checked ? 'true' : undefined }, signal: ctx.signal });
    inst.setRows(page.items || []);
  };
  showAll.input.addEventListener('change', () => loadInst().catch(() => {}));
  const chartBox = h('div', { 'data-testid': 'usage-chart' });
  panel.append(h('h2', null, 'Installations & usage'), h('section', { class: 'card' }, h('h3', null, 'Usage, last 30 days (UTC)'), chartBox),
    h('section', { class: 'card' }, h('h3', null, 'Installations'), showAll, inst));
  const [usage] = await Promise.all([api('context', `/api/v1/projects/${pid}/usage`, { signal: ctx.signal }), loadInst()]);
  const rows = lastDays(usage.days || []).map((d) => ({ label: d.day, short: d.day.slice(5), values: { context_fetches: d.context_fetches || 0, memory_syncs: d.memory_syncs || 0 } }));
  chartBox.replaceChildren(barChart({
    title: 'Context fetches and memory syncs per day',
    rows,
    series: [{ key: 'context_fetches', name: 'Context fetches', cls: 's1' }, { key: 'memory_syncs', name: 'Memory syncs', cls: 's2' }],
  }));
}
