import { api, all } from '../api.js';
import { h, pageHeader, section, table, pager, field, form, badge, fmtDate, announce } from '../dom.js';

export default async function apps(ctx) {
  ctx.main.append(pageHeader('Apps'));
  let projects = [];
  const projectName = (id) => projects.find((p) => p.id === id)?.name || (id ? id.slice(0, 8) : '—');
  const filter = field({ label: 'Project', name: 'project_id', options: [['', 'all projects']], testid: 'apps-project-filter', value: ctx.query.project_id });
  const list = table([
    { label: 'Name', render: (a) => h('a', { href: `#/apps/${encodeURIComponent(a.name)}` }, a.name) },
    { label: 'Status', render: (a) => badge(a.status || 'unknown') },
    { label: 'Release', render: (a) => a.current_release || '—' },
    { label: 'Executor', render: (a) => a.executor },
    { label: 'Project', render: (a) => projectName(a.project_id) },
    { label: 'Replicas', class: 'num', render: (a) => String(a.spec?.replicas ?? a.replicas?.length ?? '—') },
    { label: 'Updated', render: (a) => fmtDate(a.updated_at) },
  ], [], { caption: 'Apps', testid: 'apps-table', rowAttrs: (a) => ({ 'data-testid': 'app-row', dataset: { app: a.name } }) });
  const more = pager((cursor) => api('deploy', '/api/v1/apps', { query: { project_id: filter.input.value, limit: 50, cursor }, signal: ctx.signal }),
    (items, first) => (first ? list.setRows(items) : list.addRows(items)));
  filter.input.addEventListener('change', () => more.reload().catch(() => {}));

  const name = field({ label: 'Name', name: 'name', required: true, testid: 'app-name', hint: 'Lower-case letters, digits and dashes; starts with a letter.' });
  const project = field({ label: 'Project', name: 'project_id', options: [['', 'choose…']], testid: 'app-project' });
  const executor = field({ label: 'Executor', name: 'executor', options: [['process', 'process'], ['swarm', 'swarm'], ['kubernetes', 'kubernetes']], testid: 'app-executor' });
  const image = field({ label: 'Image', name: 'spec.image', hint: 'swarm and kubernetes' });
  const build = field({ label: 'Build command', name: 'spec.build_command', testid: 'app-build-command', hint: 'process executor' });
  const start = field({ label: 'Start command', name: 'spec.start_command', testid: 'app-start-command', hint: 'process executor' });
  const port = field({ label: 'Port', name: 'spec.port', type: 'number' });
  const replicas = field({ label: 'Replicas', name: 'spec.replicas', type: 'number', hint: 'default 1', attrs: { min: '0', max: '100' } });
  const spec = field({ label: 'More spec (JSON)', name: 'spec', textarea: true, rows: 4, testid: 'app-spec', hint: 'Merged with the fields above, e.g. {"health_check": {"path": "/health"}}' });
  const create = form({
    label: 'Create an app',
    testid: 'app-create-form',
    onSubmit: async () => {
      let extra = {};
      if (spec.input.value.trim()) {
        try { extra = JSON.parse(spec.input.value); } catch { throw Object.assign(new Error('bad json'), { problem: { title: 'Invalid field', field: 'spec', detail: 'is not valid JSON' } }); }
      }
      if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
        throw Object.assign(new Error('not an object'), { problem: { title: 'Invalid field', field: 'spec', detail: 'must be a JSON object' } });
      }
      const s = { ...extra };
      if (build.input.value.trim()) s.build_command = build.input.value.trim();
      if (image.input.value.trim()) s.image = image.input.value.trim();
      if (start.input.value.trim()) s.start_command = start.input.value.trim();
      if (port.input.value) s.port = Number(port.input.value);
      if (replicas.input.value) s.replicas = Number(replicas.input.value);
      const body = { name: name.input.value.trim(), executor: executor.input.value, spec: s };
      if (project.input.value) body.project_id = project.input.value;
      const a = await api('deploy', '/api/v1/apps', { method: 'POST', body });
      announce(`App ${a.name} created.`);
      ctx.navigate(`#/apps/${encodeURIComponent(a.name)}`);
    },
  }, h('div', { class: 'grid3' }, name, project, executor), h('div', { class: 'grid2' }, build, start), h('div', { class: 'grid3' }, image, port, replicas), spec,
  h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'app-create-submit' }, 'Create app')));

  ctx.main.append(section('All apps', h('div', { class: 'toolbar' }, filter), list, more), h('details', { class: 'card', 'data-testid': 'app-new' }, h('summary', null, 'New app'), create));
  const loadProjects = all('pm', '/api/v1/projects', {}, 500).then((items) => {
    projects = items;
    const opts = items.map((p) => h('option', { value: p.id }, p.name));
    filter.input.append(...opts.map((o) => o.cloneNode(true)));
    if (ctx.query.project_id) filter.input.value = ctx.query.project_id;
    project.input.append(...opts);
    if (ctx.query.project_id) project.input.value = ctx.query.project_id;
  }).catch(() => {});
  await loadProjects;
  await more.reload();
}
