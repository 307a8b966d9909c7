import { api, ApiError } from '../api.js';
import { h, field, form, table, fmtDate, confirmDialog, announce, alertBox, problemText } from '../dom.js';

const ENVS = ['development', 'staging', 'production'];
const MASK = '••••••••';

export default async function envTab(ctx) {
  const { panel, project } = ctx;
  const path = `/api/v1/projects/${encodeURIComponent(project.id)}/env`;
  const filter = field({ label: 'Show environment', name: 'environment', options: [['', 'all'], ...ENVS.map((e) => [e, e])], testid: 'env-filter' });
  const status = h('p', { class: 'muted', role: 'status' });

  const list = table([
    { label: 'Key', render: (v) => h('code', null, v.key) },
    { label: 'Environment', render: (v) => v.environment },
    { label: 'Kind', render: (v) => (v.secret ? h('span', { class: 'badge badge-secret' }, 'secret') : 'plain') },
    { label: 'Value', render: (v) => valueCell(v) },
    { label: 'Version', class: 'num', render: (v) => String(v.version) },
    { label: 'Updated', render: (v) => fmtDate(v.updated_at) },
    { label: 'Actions', render: (v) => actions(v) },
  ], [], { caption: 'Environment variables', testid: 'env-table', rowAttrs: (v) => ({ 'data-testid': 'env-row', dataset: { key: v.key, environment: v.environment, secret: v.secret } }) });

  function valueCell(v) {
    if (!v.secret) return h('code', { 'data-testid': 'env-value' }, v.value ?? '');
    return h('span', { class: 'masked', 'data-testid': 'env-value', dataset: { masked: 'true' }, 'aria-label': 'hidden secret value' }, MASK);
  }

  function actions(v) {
    const box = h('div', { class: 'row-actions' });
    if (v.secret) {
      const reveal = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'env-reveal', title: 'Needs the secrets:read scope; the read is logged' }, 'Reveal');
      reveal.addEventListener('click', async () => {
        const cell = reveal.closest('tr').querySelector('[data-testid=env-value]');
        if (cell.dataset.masked === 'false') { cell.textContent = MASK; cell.dataset.masked = 'true'; reveal.textContent = 'Reveal'; return; }
        try {
          // One variable: only its read is logged.
          const found = await api('context', `${path}/${encodeURIComponent(v.key)}`, { query: { environment: v.environment } });
          if (!found || found.masked || found.value === undefined) throw new ApiError(403, { title: 'Not revealed', detail: 'Reading secret values needs the secrets:read scope.' });
          cell.textContent = found.value;
          cell.dataset.masked = 'false';
          reveal.textContent = 'Hide';
          announce(`${v.key} revealed; the read is logged.`);
        } catch (e) { status.textContent = problemText(e); }
      });
      box.append(reveal);
    }
    const edit = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'env-edit' }, 'Edit');
    edit.addEventListener('click', () => {
      key.input.value = v.key;
      environment.input.value = v.environment;
      secret.input.checked = v.secret;
      value.input.value = v.secret ? '' : (v.value ?? '');
      value.input.focus();
    });
    const del = h('button', { type: 'button', class: 'danger small', 'data-testid': 'env-delete' }, 'Delete');
    del.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: `Delete ${v.key}?`, message: `The variable is removed from ${v.environment}.`, confirmLabel: 'Delete' });
      if (!ok) return;
      try {
        await api('context', `${path}/${encodeURIComponent(v.key)}`, { method: 'DELETE', query: { environment: v.environment } });
        announce(`${v.key} deleted.`);
        await load();
      } catch (e) { status.textContent = problemText(e); }
    });
    box.append(edit, del);
    return box;
  }

  async function load() {
    // Listed masked whatever the scopes (nothing logged); "Reveal" reads one variable.
    const page = await api('context', path, { query: { environment: filter.input.value || undefined, reveal: 'false' }, signal: ctx.signal });
    const items = (page.items || []).map((v) => (v.secret ? { ...v, value: undefined } : v));
    list.setRows(items);
    status.textContent = `${items.length} variable${items.length === 1 ? '' : 's'}.`;
  }
  filter.input.addEventListener('change', () => load().catch((e) => { status.textContent = problemText(e); }));

  const key = field({ label: 'Key', name: 'key', required: true, testid: 'env-key', hint: 'Upper-case letters, digits and _; starts with a letter or _.', attrs: { autocomplete: 'off', spellcheck: 'false', pattern: '[A-Z_][A-Z0-9_]{0,127}' } });
  const value = field({ label: 'Value', name: 'value', testid: 'env-value-input', attrs: { autocomplete: 'off', spellcheck: 'false' } });
  const secret = field({ label: 'Secret (masked for readers without secrets:read)', name: 'secret', type: 'checkbox', testid: 'env-secret' });
  const environment = field({ label: 'Environment', name: 'environment', options: ENVS.map((e) => [e, e]), testid: 'env-environment' });
  const setForm = form({
    label: 'Set a variable',
    testid: 'env-form',
    onSubmit: async (f) => {
      const k = key.input.value.trim();
      if (!k) throw new ApiError(422, { title: 'Invalid field', field: 'key', detail: 'is required' });
      await api('context', `${path}/${encodeURIComponent(k)}`, { method: 'PUT', body: { value: value.input.value, secret: secret.input.checked, environment: environment.input.value } });
      value.input.value = '';
      announce(`${k} saved.`);
      await load();
      f.querySelector('[data-testid=env-key]').focus();
    },
  }, h('div', { class: 'grid2' }, key, environment), value, secret, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'env-submit' }, 'Save variable')));

  panel.append(h('h2', null, 'Environment variables'), h('div', { class: 'card' }, h('h3', null, 'Set a variable'), setForm),
    h('div', { class: 'toolbar' }, filter), status, list);
  try { await load(); } catch (e) { panel.append(alertBox(e)); }
}
