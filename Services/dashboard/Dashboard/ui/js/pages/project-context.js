import { api } from '../api.js';
import { h, field, form, dl, table, badge, fmtDate } from '../dom.js';

const MASK = '••••••••';

export default async function contextTab(ctx) {
  const { panel, project } = ctx;
  const level = field({ label: 'Context level', name: 'context_level', options: [['minimal', 'minimal'], ['standard', 'standard'], ['full', 'full']], value: 'minimal', testid: 'context-level' });
  const env = field({ label: 'Environment', name: 'environment', options: [['development', 'development'], ['staging', 'staging'], ['production', 'production']], testid: 'context-environment' });
  const out = h('div', { 'data-testid': 'context-view' });
  const load = async () => {
    const c = await api('context', '/api/v1/flukebase_connect/context', { query: { project_id: project.id, context_level: level.input.value, environment: env.input.value }, signal: ctx.signal });
    out.replaceChildren(...render(c));
  };
  const f = form({ label: 'Context options', onSubmit: load }, h('div', { class: 'grid3' }, level, env, h('div', { class: 'actions end' }, h('button', { type: 'submit', 'data-testid': 'context-load' }, 'Load'))));
  panel.append(h('h2', null, 'Context an AI tool loads'),
    h('p', { class: 'muted' }, 'Standard and full include environment variables: for a caller allowed to read secrets, each secret read is logged, though values stay hidden here.'),
    f, out);
  await load();
}

function render(c) {
  const parts = [];
  const p = c.project || {};
  parts.push(h('h3', null, 'Project'), dl(Object.entries(p).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '—')])));
  const m = c.mcp_configuration || {};
  parts.push(h('h3', null, 'MCP configuration'), dl([
    ['Context level', m.context_level], ['Preset', m.preset || 'none'], ['Enabled plugins', (m.enabled_plugins || []).join(', ') || 'none'],
  ]));
  if (c.environment_variables) {
    parts.push(h('h3', null, 'Environment variables'), table([
      { label: 'Key', render: (e) => h('code', null, e.key) },
      { label: 'Environment', render: (e) => e.environment },
      { label: 'Value', render: (e) => (e.secret ? h('span', { class: 'masked' }, MASK) : h('code', null, e.value ?? '')) },
      { label: 'Version', class: 'num', render: (e) => String(e.version) },
    ], c.environment_variables, { caption: 'Environment variables' }));
  }
  if (c.team_members) parts.push(h('h3', null, 'Team'), table([
    { label: 'Name', render: (t) => t.name }, { label: 'E-mail', render: (t) => t.email }, { label: 'Role', render: (t) => t.role },
  ], c.team_members, { caption: 'Team' }));
  if (c.milestones) parts.push(h('h3', null, 'Milestones'), table([
    { label: 'Title', render: (x) => x.title }, { label: 'Status', render: (x) => badge(x.status) }, { label: 'Due', render: (x) => x.due_date || '—' },
  ], c.milestones, { caption: 'Milestones' }));
  if (c.memories) parts.push(h('h3', null, `Memories (${c.memories.length})`), h('ul', { class: 'plain' }, c.memories.slice(0, 50).map((x) => h('li', null, badge(x.memory_type, 'memory-type-badge'), ' ', x.content.slice(0, 200)))));
  const redacted = { ...c, environment_variables: c.environment_variables?.map((e) => (e.secret ? { ...e, value: e.value === undefined ? undefined : MASK } : e)) };
  parts.push(h('p', { class: 'muted small' }, `Changes cursor: ${c.changes_cursor ?? '—'} · loaded ${fmtDate(new Date().toISOString())}`),
    h('details', null, h('summary', null, 'Raw JSON (secrets hidden)'), h('pre', { class: 'json' }, JSON.stringify(redacted, null, 2))));
  return parts;
}
