import { api } from '../api.js';
import { h, badge, pageHeader, section, table, timeAgo, fmtDate, versionLabel } from '../dom.js';

const KIND = {
  deploy_failed: 'Deploy failed', deploy_rolled_back: 'Rolled back', offline: 'Offline', tasks_blocked: 'Blocked tasks',
  tasks_overdue: 'Overdue tasks', milestones_overdue: 'Overdue milestones', workspace_failing: 'Workspace failing',
};

export default async function overview(ctx) {
  const refreshBtn = h('button', { type: 'button', class: 'secondary', 'data-testid': 'overview-refresh' }, 'Refresh');
  ctx.main.append(pageHeader('Overview', refreshBtn));
  const body = h('div');
  ctx.main.append(body);
  const load = async () => {
    const o = await api('pm', '/api/v1/overview', { signal: ctx.signal });
    if (!ctx.isCurrent()) return;
    body.replaceChildren(...render(o));
  };
  refreshBtn.addEventListener('click', () => load().catch(() => {}));
  await load();
}

function render(o) {
  const out = [];
  const stale = Object.entries(o.stale || {}).filter(([, v]) => v).map(([k]) => k);
  if (stale.length) out.push(h('p', { class: 'notice', role: 'note' }, `Some information may be out of date (${stale.join(', ')}).`));
  if (o.truncated) out.push(h('p', { class: 'notice' }, 'Only the first 1,000 projects are shown.'));
  const attention = o.attention || [];
  out.push(section(`Needs attention (${attention.length})`,
    attention.length
      ? h('ul', { class: 'attention', 'data-testid': 'attention-list' }, attention.map((a) => h('li', { class: `attention-item kind-${String(a.kind).replace(/[^a-z_]/g, '')}`, 'data-testid': 'attention-item' },
        h('span', { class: 'kind' }, KIND[a.kind] || a.kind), ' ',
        h('a', { href: `#/projects/${encodeURIComponent(a.project_id)}` }, a.project_name), ' — ',
        h('span', null, a.detail), a.since ? h('span', { class: 'muted' }, ` (${timeAgo(a.since)})`) : null)))
      : h('p', { class: 'muted', 'data-testid': 'attention-list' }, 'Nothing needs attention.')));
  const projects = o.projects || [];
  out.push(section(`Projects (${projects.length})`, table([
    { label: 'Project', render: (p) => h('a', { href: `#/projects/${encodeURIComponent(p.id)}`, 'data-testid': 'overview-project-link' }, p.name) },
    { label: 'Stage', render: (p) => p.stage },
    { label: 'Deployments', render: (p) => (p.deployments?.length ? h('ul', { class: 'plain' }, p.deployments.map((d) => h('li', null, h('a', { href: `#/deployments/${encodeURIComponent(d.deployment_id)}` }, d.app, d.version ? ` ${versionLabel(d.version)}` : ''), ' ', badge(d.status), h('span', { class: 'muted' }, ` ${timeAgo(d.at)}`)))) : h('span', { class: 'muted' }, 'none')) },
    { label: 'Status', render: (p) => badge(p.federation?.status || 'UNKNOWN', 'federation-status') },
    { label: 'Blocked', class: 'num', render: (p) => String(p.tasks?.blocked ?? 0) },
    { label: 'Overdue', class: 'num', render: (p) => `${p.overdue_tasks ?? 0} tasks, ${p.overdue_milestones ?? 0} milestones` },
    { label: 'Attention', class: 'num', render: (p) => (p.attention ? h('strong', { class: 'warn' }, String(p.attention)) : '0') },
  ], projects, {
    caption: 'Projects', testid: 'overview-projects', empty: 'No projects yet — create one under Projects.',
    rowAttrs: (p) => ({ 'data-testid': 'overview-project-row', dataset: { projectId: p.id, attention: p.attention || 0 } }),
  })));
  out.push(h('p', { class: 'muted small' }, `Generated ${fmtDate(o.generated_at)}`));
  return out;
}
