import { api, all } from '../api.js';
import { h, field, form, table, pager, badge, confirmDialog, announce, problemText, splitList, link } from '../dom.js';

const MS = ['planned', 'in_progress', 'done', 'cancelled'];
const TS = ['todo', 'in_progress', 'blocked', 'done'];
const ROLES = ['lead', 'developer', 'designer', 'reviewer', 'observer'];
const opts = (xs) => xs.map((x) => [x, x.replace(/_/g, ' ')]);

export default async function workTab(ctx) {
  const { panel, project } = ctx;
  const pid = encodeURIComponent(project.id);
  const status = h('p', { class: 'muted', role: 'status' });
  const fail = (e) => { status.textContent = problemText(e); };
  let members = [];

  // status selects that PATCH on change
  const statusSelect = (value, values, save, label) => {
    const s = h('select', { 'aria-label': label, 'data-testid': 'status-select' }, opts(values).map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
    s.addEventListener('change', async () => {
      s.disabled = true;
      try { await save(s.value); announce(`${label}: ${s.value}.`); } catch (e) { fail(e); s.value = value; } finally { s.disabled = false; }
    });
    return s;
  };
  const delButton = (what, run) => {
    const b = h('button', { type: 'button', class: 'danger small' }, 'Delete');
    b.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: `Delete ${what}?`, confirmLabel: 'Delete' });
      if (!ok) return;
      try { await run(); announce(`${what} deleted.`); } catch (e) { fail(e); }
    });
    return b;
  };

  // ---- milestones ----
  const msTable = table([
    { label: 'Title', render: (m) => m.title },
    { label: 'Status', render: (m) => statusSelect(m.status, MS, (v) => api('pm', `/api/v1/projects/${pid}/milestones/${m.id}`, { method: 'PATCH', body: { status: v } }), `Status of ${m.title}`) },
    { label: 'Due', render: (m) => m.due_date || '—' },
    { label: 'Description', render: (m) => (m.description || '').slice(0, 120) },
    { label: '', render: (m) => delButton(`milestone ${m.title}`, async () => { await api('pm', `/api/v1/projects/${pid}/milestones/${m.id}`, { method: 'DELETE' }); await msPager.reload(); }) },
  ], [], { caption: 'Milestones', testid: 'milestones-table', rowAttrs: (m) => ({ 'data-testid': 'milestone-row', dataset: { id: m.id } }) });
  const msPager = pager((cursor) => api('pm', `/api/v1/projects/${pid}/milestones`, { query: { limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? msTable.setRows(items) : msTable.addRows(items)));
  const msTitle = field({ label: 'Title', name: 'title', required: true, testid: 'milestone-title' });
  const msDue = field({ label: 'Due date', name: 'due_date', type: 'date' });
  const msStatus = field({ label: 'Status', name: 'status', options: opts(MS) });
  const msDesc = field({ label: 'Description', name: 'description', textarea: true });
  const msForm = form({
    label: 'New milestone',
    onSubmit: async () => {
      await api('pm', `/api/v1/projects/${pid}/milestones`, { method: 'POST', body: { title: msTitle.input.value.trim(), status: msStatus.input.value, due_date: msDue.input.value || null, description: msDesc.input.value } });
      msTitle.input.value = ''; msDesc.input.value = ''; msDue.input.value = '';
      announce('Milestone created.');
      await msPager.reload();
    },
  }, h('div', { class: 'grid3' }, msTitle, msDue, msStatus), msDesc, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'milestone-submit' }, 'Add milestone')));

  // ---- tasks ----
  const memberName = (id) => members.find((m) => m.user_id === id)?.name || (id ? id.slice(0, 8) : '—');
  const taskFilter = field({ label: 'Status', name: 'status', options: [['', 'any'], ...opts(TS)], testid: 'task-filter' });
  const taskTable = table([
    { label: 'Title', render: (t) => [t.title, t.external_url ? [' ', link(t.external_url, '↗', { rel: 'noopener noreferrer', target: '_blank', 'aria-label': 'on GitHub' })] : null] },
    { label: 'Status', render: (t) => statusSelect(t.status, TS, (v) => api('pm', `/api/v1/tasks/${t.id}`, { method: 'PATCH', body: { status: v } }), `Status of ${t.title}`) },
    { label: 'Assignee', render: (t) => memberName(t.assignee_id) },
    { label: 'Due', render: (t) => t.due_date || '—' },
    { label: 'Labels', render: (t) => (t.labels || []).join(', ') },
    { label: 'Source', render: (t) => (t.deployment_id ? h('a', { href: `#/deployments/${encodeURIComponent(t.deployment_id)}` }, t.source) : t.source) },
    { label: '', render: (t) => delButton(`task ${t.title}`, async () => { await api('pm', `/api/v1/tasks/${t.id}`, { method: 'DELETE' }); await taskPager.reload(); }) },
  ], [], { caption: 'Tasks', testid: 'tasks-table', rowAttrs: (t) => ({ 'data-testid': 'task-row', dataset: { id: t.id, status: t.status } }) });
  const taskPager = pager((cursor) => api('pm', '/api/v1/tasks', { query: { project_id: project.id, status: taskFilter.input.value, limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? taskTable.setRows(items) : taskTable.addRows(items)));
  taskFilter.input.addEventListener('change', () => taskPager.reload().catch(fail));
  const tTitle = field({ label: 'Title', name: 'title', required: true, testid: 'task-title' });
  const tStatus = field({ label: 'Status', name: 'status', options: opts(TS) });
  const tAssignee = field({ label: 'Assignee', name: 'assignee_id', options: [['', 'nobody']] });
  const tDue = field({ label: 'Due date', name: 'due_date', type: 'date' });
  const tLabels = field({ label: 'Labels', name: 'labels', hint: 'Comma-separated.' });
  const tDesc = field({ label: 'Description', name: 'description', textarea: true });
  const taskForm = form({
    label: 'New task',
    onSubmit: async () => {
      await api('pm', '/api/v1/tasks', { method: 'POST', body: { project_id: project.id, title: tTitle.input.value.trim(), status: tStatus.input.value, assignee_id: tAssignee.input.value || null, due_date: tDue.input.value || null, labels: splitList(tLabels.input.value), description: tDesc.input.value } });
      tTitle.input.value = ''; tDesc.input.value = ''; tLabels.input.value = '';
      announce('Task created.');
      await taskPager.reload();
    },
  }, h('div', { class: 'grid3' }, tTitle, tStatus, tAssignee), h('div', { class: 'grid2' }, tDue, tLabels), tDesc, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'task-submit' }, 'Add task')));

  // ---- team ----
  const teamTable = table([
    { label: 'Name', render: (m) => m.name },
    { label: 'E-mail', render: (m) => m.email },
    { label: 'Role', render: (m) => statusSelect(m.role, ROLES, (v) => api('pm', `/api/v1/projects/${pid}/members/${m.user_id}`, { method: 'PATCH', body: { role: v } }), `Role of ${m.name}`) },
    { label: '', render: (m) => {
      const b = h('button', { type: 'button', class: 'danger small' }, 'Remove');
      b.addEventListener('click', async () => {
        const { ok } = await confirmDialog({ title: `Remove ${m.name} from the project?`, confirmLabel: 'Remove' });
        if (!ok) return;
        try { await api('pm', `/api/v1/projects/${pid}/members/${m.user_id}`, { method: 'DELETE' }); await loadTeam(); } catch (e) { fail(e); }
      });
      return b;
    } },
  ], [], { caption: 'Team', testid: 'team-table', rowAttrs: (m) => ({ 'data-testid': 'member-row' }) });
  const mUser = field({ label: 'User', name: 'user_id', options: [['', 'choose…']], testid: 'member-user' });
  const mRole = field({ label: 'Project role', name: 'role', options: opts(ROLES), value: 'developer' });
  const teamForm = form({
    label: 'Add a member',
    onSubmit: async () => {
      await api('pm', `/api/v1/projects/${pid}/members`, { method: 'POST', body: { user_id: mUser.input.value, role: mRole.input.value } });
      announce('Member added.');
      await loadTeam();
    },
  }, h('div', { class: 'grid2' }, mUser, mRole), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add member')));

  async function loadTeam() {
    const page = await api('pm', `/api/v1/projects/${pid}/members`, { query: { limit: 100 }, signal: ctx.signal });
    members = page.items || [];
    teamTable.setRows(members);
    tAssignee.input.replaceChildren(h('option', { value: '' }, 'nobody'), ...members.map((m) => h('option', { value: m.user_id }, m.name)));
  }
  async function loadUsers() {
    try {
      const users = await all('pm', '/api/v1/users', {}, 500);
      mUser.input.replaceChildren(h('option', { value: '' }, 'choose…'), ...users.map((u) => h('option', { value: u.id }, `${u.name} <${u.email}>`)));
    } catch {
      // not an admin: a user id by hand
      const input = h('input', { id: mUser.input.id, name: 'user_id', 'data-field': 'user_id', 'data-testid': 'member-user' });
      mUser.input.replaceWith(input);
      mUser.input = input;
    }
  }

  panel.append(h('h2', null, 'Milestones, tasks & team'), status,
    h('section', { class: 'card' }, h('h3', null, 'Milestones'), msTable, msPager, h('details', null, h('summary', null, 'New milestone'), msForm)),
    h('section', { class: 'card' }, h('h3', null, 'Tasks'), h('div', { class: 'toolbar' }, taskFilter), taskTable, taskPager, h('details', null, h('summary', null, 'New task'), taskForm)),
    h('section', { class: 'card' }, h('h3', null, 'Team'), teamTable, h('details', null, h('summary', null, 'Add a member'), teamForm)));
  await Promise.all([msPager.reload(), loadTeam().then(() => taskPager.reload()), loadUsers()]);
}
