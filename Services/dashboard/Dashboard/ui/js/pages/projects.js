import { api } from '../api.js';
import { h, pageHeader, section, table, pager, field, form, fmtDate, announce } from '../dom.js';

export const STAGES = ['idea', 'prototype', 'mvp', 'production'];

export default async function projects(ctx) {
  ctx.main.append(pageHeader('Projects'));
  const list = table([
    { label: 'Name', render: (p) => h('a', { href: `#/projects/${encodeURIComponent(p.id)}` }, p.name) },
    { label: 'Stage', render: (p) => p.stage },
    { label: 'Description', render: (p) => (p.description || '').slice(0, 140) },
    { label: 'Created', render: (p) => fmtDate(p.created_at) },
  ], [], { caption: 'Projects', testid: 'projects-table', rowAttrs: (p) => ({ 'data-testid': 'project-row', dataset: { projectId: p.id } }) });
  const more = pager((cursor) => api('pm', '/api/v1/projects', { query: { limit: 50, cursor }, signal: ctx.signal }),
    (items, first) => (first ? list.setRows(items) : list.addRows(items)));

  const name = field({ label: 'Name', name: 'name', required: true, testid: 'project-name', attrs: { maxlength: 200 } });
  const description = field({ label: 'Description', name: 'description', textarea: true, testid: 'project-description' });
  const stage = field({ label: 'Stage', name: 'stage', options: STAGES.map((s) => [s, s]), value: 'idea', testid: 'project-stage' });
  const repo = field({ label: 'Repository URL', name: 'repository_url', type: 'url', testid: 'project-repository' });
  const create = form({
    testid: 'project-create-form',
    label: 'Create a project',
    onSubmit: async () => {
      const body = { name: name.input.value.trim(), description: description.input.value, stage: stage.input.value };
      if (repo.input.value.trim()) body.repository_url = repo.input.value.trim();
      const p = await api('pm', '/api/v1/projects', { method: 'POST', body });
      announce(`Project ${p.name} created.`);
      ctx.navigate(`#/projects/${encodeURIComponent(p.id)}`);
    },
  }, h('div', { class: 'grid2' }, name, stage), description, repo,
  h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'project-create-submit' }, 'Create project')));

  ctx.main.append(section('New project', create), section('All projects', list, more));
  await more.reload();
}
