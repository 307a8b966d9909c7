import { api, all, current } from '../api.js';
import { h, table, pager, field, form, badge, fmtDate, confirmDialog, announce, problemText, secretOnce } from '../dom.js';

const SCOPES = ['context:read', 'context:write', 'secrets:read', 'memories:write', 'deploy:write', 'logs:read', 'logs:write', 'webhooks:manage', 'admin'];
const ROLES = ['owner', 'admin', 'member', 'viewer'];
const TABS = [['tokens', 'API tokens'], ['users', 'Users & roles'], ['connections', 'Connections'], ['audit', 'Audit log']];

export default async function settings(ctx) {
  const tab = TABS.find((t) => t[0] === ctx.params[0]) || TABS[0];
  ctx.main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Settings')),
    h('nav', { class: 'tabs', 'aria-label': 'Settings sections' }, h('ul', null, TABS.map(([k, l]) => h('li', null, h('a', { href: `#/settings/${k}`, 'aria-current': k === tab[0] ? 'page' : null, 'data-testid': `settings-tab-${k}` }, l))))));
  const panel = h('div', { class: 'tab-panel' });
  const status = h('p', { class: 'muted', role: 'status' });
  ctx.main.append(status, panel);
  const c = { ...ctx, panel, status, fail: (e) => { status.textContent = problemText(e); } };
  await ({ tokens, users, connections, audit })[tab[0]](c);
}

async function tokens(ctx) {
  const projects = await all('pm', '/api/v1/projects', {}, 500).catch(() => []);
  const tbl = table([
    { label: 'Name', render: (t) => t.name },
    { label: 'Prefix', render: (t) => h('code', null, t.prefix) },
    { label: 'Scopes', render: (t) => (t.scopes || []).join(' ') },
    { label: 'Project', render: (t) => (t.project_id ? projects.find((p) => p.id === t.project_id)?.name || t.project_id.slice(0, 8) : 'all') },
    { label: 'Expires', render: (t) => fmtDate(t.expires_at) },
    { label: 'Last used', render: (t) => fmtDate(t.last_used_at) },
    { label: 'State', render: (t) => badge(t.revoked_at ? 'revoked' : 'active', 'token-state') },
    { label: '', render: (t) => (t.revoked_at ? '' : revokeButton(t)) },
  ], [], { caption: 'API tokens', testid: 'tokens-table', rowAttrs: (t) => ({ 'data-testid': 'token-row', dataset: { id: t.id } }) });
  const more = pager((cursor) => api('pm', '/api/v1/tokens', { query: { limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? tbl.setRows(items) : tbl.addRows(items)));
  function revokeButton(t) {
    const b = h('button', { type: 'button', class: 'danger small', 'data-testid': 'token-revoke' }, 'Revoke');
    b.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: `Revoke ${t.name}?`, message: 'The token, and every token minted from it, stops working at once.', confirmLabel: 'Revoke' });
      if (!ok) return;
      try { await api('pm', `/api/v1/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' }); announce('Token revoked.'); await more.reload(); } catch (e) { ctx.fail(e); }
    });
    return b;
  }
  const name = field({ label: 'Name', name: 'name', required: true, testid: 'token-name' });
  const project = field({ label: 'Project', name: 'project_id', options: [['', 'every project (tenant-wide)'], ...projects.map((p) => [p.id, p.name])] });
  const days = field({ label: 'Expires in days', name: 'expires_in_days', type: 'number', hint: 'Empty: never.' });
  const scopeBoxes = SCOPES.map((s) => field({ label: s, type: 'checkbox', name: `scope-${s}`, value: s === 'context:read', attrs: { 'data-scope': s } }));
  const scopes = h('fieldset', { class: 'field scopes', 'data-field': 'scopes', tabindex: '-1' }, h('legend', null, 'Scopes'), h('div', { class: 'checks' }, scopeBoxes));
  const shown = h('div');
  const create = form({
    label: 'New API token',
    testid: 'token-form',
    onSubmit: async () => {
      const body = { name: name.input.value.trim(), scopes: scopeBoxes.filter((b) => b.input.checked).map((b) => b.input.dataset.scope) };
      if (project.input.value) body.project_id = project.input.value;
      if (days.input.value) body.expires_in_days = Number(days.input.value);
      const t = await api('pm', '/api/v1/tokens', { method: 'POST', body });
      shown.replaceChildren(secretOnce(`Token ${t.name}`, t.token));
      name.input.value = '';
      announce('Token created. Copy it now: it is not shown again.');
      await more.reload();
    },
  }, h('div', { class: 'grid3' }, name, project, days), scopes, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'token-submit' }, 'Create token')));
  ctx.panel.append(h('h2', null, 'API tokens'), h('div', { class: 'card' }, create, shown), tbl, more);
  await more.reload();
}

async function users(ctx) {
  const me = current();
  const tbl = table([
    { label: 'Name', render: (u) => u.name },
    { label: 'E-mail', render: (u) => u.email },
    { label: 'Role', render: (u) => roleSelect(u) },
    { label: 'Since', render: (u) => fmtDate(u.created_at) },
    { label: '', render: (u) => (u.id === me.userId ? h('span', { class: 'muted' }, 'you') : removeButton(u)) },
  ], [], { caption: 'Users', testid: 'users-table', rowAttrs: (u) => ({ 'data-testid': 'user-row', dataset: { id: u.id } }) });
  const more = pager((cursor) => api('pm', '/api/v1/users', { query: { limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? tbl.setRows(items) : tbl.addRows(items)));
  function roleSelect(u) {
    const s = h('select', { 'aria-label': `Role of ${u.name}`, 'data-testid': 'user-role' }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
    s.addEventListener('change', async () => {
      const { ok } = await confirmDialog({ title: `Make ${u.name} ${s.value}?`, confirmLabel: 'Change role', danger: s.value === 'owner' || u.role === 'owner' });
      if (!ok) { s.value = u.role; return; }
      try { const n = await api('pm', `/api/v1/users/${encodeURIComponent(u.id)}`, { method: 'PATCH', body: { role: s.value } }); u.role = n.role; announce('Role changed.'); } catch (e) { s.value = u.role; ctx.fail(e); }
    });
    return s;
  }
  function removeButton(u) {
    const b = h('button', { type: 'button', class: 'danger small', 'data-testid': 'user-remove' }, 'Remove');
    b.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: `Remove ${u.name} from the tenant?`, message: 'Their sessions and API tokens stop working.', confirmLabel: 'Remove' });
      if (!ok) return;
      try { await api('pm', `/api/v1/users/${encodeURIComponent(u.id)}`, { method: 'DELETE' }); announce('User removed.'); await more.reload(); } catch (e) { ctx.fail(e); }
    });
    return b;
  }
  const email = field({ label: 'E-mail', name: 'email', type: 'email', required: true });
  const name = field({ label: 'Name', name: 'name', required: true });
  const password = field({ label: 'Initial password', name: 'password', type: 'password', required: true, attrs: { autocomplete: 'new-password' } });
  const role = field({ label: 'Role', name: 'role', options: ROLES.map((r) => [r, r]), value: 'member' });
  const create = form({
    label: 'Add a user',
    onSubmit: async () => {
      await api('pm', '/api/v1/users', { method: 'POST', body: { email: email.input.value.trim(), name: name.input.value.trim(), password: password.input.value, role: role.input.value } });
      email.input.value = ''; name.input.value = ''; password.input.value = '';
      announce('User added.');
      await more.reload();
    },
  }, h('div', { class: 'grid2' }, email, name), h('div', { class: 'grid2' }, password, role), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add user')));
  ctx.panel.append(h('h2', null, 'Users & roles'), tbl, more, h('details', { class: 'card' }, h('summary', null, 'Add a user'), create));
  await more.reload();
}

async function connections(ctx) {
  const tbl = table([
    { label: 'Provider', render: (c) => `${c.provider} (${c.kind})` },
    { label: 'Account', render: (c) => c.account?.login || c.account?.username || c.account?.name || '—' },
    { label: 'URL', render: (c) => c.url || '—' },
    { label: 'Status', render: (c) => [badge(c.status, 'connection-status'), c.status_reason ? h('span', { class: 'muted small' }, ` ${c.status_reason}`) : null] },
    { label: 'Checked', render: (c) => fmtDate(c.checked_at) },
    { label: '', render: (c) => {
      const b = h('button', { type: 'button', class: 'danger small' }, 'Disconnect');
      b.addEventListener('click', async () => {
        const { ok } = await confirmDialog({ title: `Disconnect ${c.provider}?`, message: 'Links and syncs that use it stop.', confirmLabel: 'Disconnect' });
        if (!ok) return;
        try { await api('pm', `/api/v1/connections/${encodeURIComponent(c.id)}`, { method: 'DELETE' }); announce('Disconnected.'); await load(); } catch (e) { ctx.fail(e); }
      });
      return b;
    } },
  ], [], { caption: 'Connections', testid: 'connections-table', rowAttrs: (c) => ({ 'data-testid': 'connection-row' }) });
  const load = async () => { const p = await api('pm', '/api/v1/connections', { signal: ctx.signal }); tbl.setRows(p.items || []); };
  const ghToken = field({ label: 'GitHub personal access token', name: 'token', type: 'password', attrs: { autocomplete: 'off' } });
  const gh = form({
    label: 'Connect GitHub',
    onSubmit: async () => { await api('pm', '/api/v1/connections/github', { method: 'POST', body: { token: ghToken.input.value.trim() } }); ghToken.input.value = ''; announce('GitHub connected.'); await load(); },
  }, ghToken, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Connect GitHub')));
  const coderUrl = field({ label: 'Coder URL', name: 'url', type: 'url' });
  const coderToken = field({ label: 'Coder session token', name: 'token', type: 'password', attrs: { autocomplete: 'off' } });
  const coder = form({
    label: 'Connect Coder',
    onSubmit: async () => { await api('pm', '/api/v1/connections/coder', { method: 'POST', body: { url: coderUrl.input.value.trim(), token: coderToken.input.value.trim() } }); coderToken.input.value = ''; announce('Coder connected.'); await load(); },
  }, coderUrl, coderToken, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Connect Coder')));
  ctx.panel.append(h('h2', null, 'Connections'), tbl, h('div', { class: 'grid2 cards' }, h('section', { class: 'card' }, h('h3', null, 'GitHub'), gh), h('section', { class: 'card' }, h('h3', null, 'Coder'), coder)));
  await load();
}

async function audit(ctx) {
  const tbl = table([
    { label: 'When', render: (a) => fmtDate(a.at) },
    { label: 'Action', render: (a) => h('code', null, a.action) },
    { label: 'Object', render: (a) => `${a.object_type}${a.object_id ? ` ${a.object_id}` : ''}` },
    { label: 'Actor', render: (a) => (a.actor_user_id ? a.actor_user_id.slice(0, 8) : 'system') + (a.actor_token_id ? ` (token ${a.actor_token_id.slice(0, 8)})` : '') },
    { label: 'Details', render: (a) => (a.details && Object.keys(a.details).length ? h('code', { class: 'small' }, JSON.stringify(a.details)) : '') },
    { label: 'Request', render: (a) => (a.request_id ? h('code', { class: 'small' }, a.request_id) : '') },
  ], [], { caption: 'Audit log', testid: 'audit-table', rowAttrs: () => ({ 'data-testid': 'audit-row' }) });
  const more = pager((cursor) => api('pm', '/api/v1/audit', { query: { limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? tbl.setRows(items) : tbl.addRows(items)));
  ctx.panel.append(h('h2', null, 'Audit log (newest first)'), tbl, more);
  await more.reload();
}
