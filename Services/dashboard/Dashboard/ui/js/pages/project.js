import { api } from '../api.js';
import { h, badge, field, form, confirmDialog, announce, dl, fmtDate, alertBox, link } from '../dom.js';
import { STAGES } from './projects.js';

const TABS = [
  ['context', 'Context', () => import('./project-context.js')],
  ['env', 'Env vars', () => import('./project-env.js')],
  ['memories', 'Memories', () => import('./project-memories.js')],
  ['work', 'Milestones, tasks & team', () => import('./project-work.js')],
  ['mcp', 'MCP configuration', () => import('./project-mcp.js')],
  ['usage', 'Installations & usage', () => import('./project-usage.js')],
];

export default async function project(ctx) {
  const [id, tabName = 'context'] = ctx.params;
  const tab = TABS.find((t) => t[0] === tabName) || TABS[0];
  const p = await api('pm', `/api/v1/projects/${encodeURIComponent(id)}`, { signal: ctx.signal });
  const base = `#/projects/${encodeURIComponent(id)}`;

  const del = h('button', { type: 'button', class: 'danger', 'data-testid': 'project-delete' }, 'Delete project');
  del.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: `Delete ${p.name}?`, message: 'The project, its milestones, tasks and members are deleted. This cannot be undone.', confirmLabel: 'Delete project' });
    if (!ok) return;
    try {
      await api('pm', `/api/v1/projects/${encodeURIComponent(id)}`, { method: 'DELETE' });
      announce('Project deleted.');
      ctx.navigate('#/projects');
    } catch (e) { ctx.main.prepend(alertBox(e)); }
  });

  const name = field({ label: 'Name', name: 'name', value: p.name });
  const stage = field({ label: 'Stage', name: 'stage', options: STAGES.map((s) => [s, s]), value: p.stage });
  const description = field({ label: 'Description', name: 'description', textarea: true, value: p.description });
  const repo = field({ label: 'Repository URL', name: 'repository_url', type: 'url', value: p.repository_url || '' });
  const edit = form({
    label: 'Edit project',
    testid: 'project-edit-form',
    onSubmit: async () => {
      await api('pm', `/api/v1/projects/${encodeURIComponent(id)}`, { method: 'PATCH', body: { name: name.input.value.trim(), stage: stage.input.value, description: description.input.value, repository_url: repo.input.value.trim() || null } });
      announce('Project saved.');
      ctx.rerender();
    },
  }, h('div', { class: 'grid2' }, name, stage), description, repo, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')));

  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/projects' }, 'Projects'), ' / '),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', 'data-testid': 'project-title' }, p.name), h('div', { class: 'page-actions' }, badge(p.stage, 'project-stage'), del)),
    p.description ? h('p', { class: 'lead' }, p.description) : null,
    dl([['Project id', h('code', null, p.id)], p.repository_url ? ['Repository', link(p.repository_url, p.repository_url, { rel: 'noopener noreferrer', target: '_blank' })] : null, ['Updated', fmtDate(p.updated_at)]]),
    h('details', { class: 'card' }, h('summary', null, 'Edit project'), edit),
    h('nav', { class: 'tabs', 'aria-label': 'Project sections' }, h('ul', null, TABS.map(([key, label]) => h('li', null,
      h('a', { href: `${base}/${key}`, 'data-testid': `tab-${key}`, 'aria-current': key === tab[0] ? 'page' : null }, label))))),
  );
  const panel = h('div', { class: 'tab-panel', 'data-testid': `panel-${tab[0]}` });
  ctx.main.append(panel);
  const mod = await tab[2]();
  if (!ctx.isCurrent()) return;
  await mod.default({ ...ctx, panel, project: p });
}
