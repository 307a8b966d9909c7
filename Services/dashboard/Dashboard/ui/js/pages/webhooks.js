import { api, all } from '../api.js';
import { h, pageHeader, section, table, pager, field, form, badge, fmtDate, fmtDuration, confirmDialog, announce, problemText, secretOnce, splitList, dl } from '../dom.js';

const SUBS = '/api/v1/webhooks/subscriptions';

/** "Name: value" lines → a headers object. */
export function parseHeaders(text) {
  const out = {};
  for (const line of String(text || '').split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}
const headersText = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}: ${v}`).join('\n');

function subscriptionFields(s = {}) {
  return {
    events: field({ label: 'Events', name: 'events', textarea: true, rows: 2, value: (s.events || []).join('\n'), testid: 'webhook-events', hint: 'One per line or comma-separated: env.updated, memory.*, or *' }),
    callback_url: field({ label: 'Callback URL', name: 'callback_url', type: 'url', value: s.callback_url, testid: 'webhook-url' }),
    description: field({ label: 'Description', name: 'description', value: s.description, testid: 'webhook-description' }),
    rate: field({ label: 'Rate limit per second', name: 'rate_limit_per_second', type: 'number', value: s.rate_limit_per_second ?? '' }),
    headers: field({ label: 'Extra headers', name: 'headers', textarea: true, rows: 2, value: headersText(s.headers), hint: 'One "Name: value" per line.' }),
  };
}
const bodyOf = (f) => ({
  events: splitList(f.events.input.value),
  callback_url: f.callback_url.input.value.trim(),
  description: f.description.input.value,
  rate_limit_per_second: f.rate.input.value === '' ? null : Number(f.rate.input.value),
  headers: parseHeaders(f.headers.input.value),
});

export default async function webhooks(ctx) {
  const [id] = ctx.params;
  return id ? detail(ctx, id) : list(ctx);
}

async function list(ctx) {
  ctx.main.append(pageHeader('Webhooks'));
  const projects = await all('pm', '/api/v1/projects', {}, 500).catch(() => []);
  const projectName = (pid) => projects.find((p) => p.id === pid)?.name || pid?.slice(0, 8);
  const filter = field({ label: 'Project', name: 'project_id', options: [['', 'all projects'], ...projects.map((p) => [p.id, p.name])] });
  const tbl = table([
    { label: 'Callback', render: (s) => h('a', { href: `#/webhooks/${encodeURIComponent(s.id)}` }, s.callback_url) },
    { label: 'Events', render: (s) => (s.events || []).join(', ') },
    { label: 'Project', render: (s) => projectName(s.project_id) },
    { label: 'State', render: (s) => badge(s.enabled ? (s.failing_since ? 'failing' : 'enabled') : 'disabled', 'webhook-state') },
    { label: 'Description', render: (s) => s.description },
  ], [], { caption: 'Subscriptions', testid: 'webhooks-table', rowAttrs: (s) => ({ 'data-testid': 'webhook-row', dataset: { id: s.id } }) });
  const more = pager((cursor) => api('webhooks', SUBS, { query: { project_id: filter.input.value, limit: 50, cursor }, signal: ctx.signal }), (items, first) => (first ? tbl.setRows(items) : tbl.addRows(items)));
  filter.input.addEventListener('change', () => more.reload().catch(() => {}));

  const f = subscriptionFields();
  const project = field({ label: 'Project', name: 'project_id', options: [['', 'choose…'], ...projects.map((p) => [p.id, p.name])], testid: 'webhook-project' });
  const secret = field({ label: 'Secret (optional)', name: 'secret', hint: 'whsec_… ; left empty, one is generated.', attrs: { autocomplete: 'off' } });
  const shown = h('div');
  const create = form({
    label: 'New subscription',
    testid: 'webhook-form',
    onSubmit: async () => {
      const body = { ...bodyOf(f), project_id: project.input.value || undefined };
      if (secret.input.value.trim()) body.secret = secret.input.value.trim();
      const s = await api('webhooks', SUBS, { method: 'POST', body });
      secret.input.value = '';
      shown.replaceChildren(s.secret ? secretOnce('Signing secret', s.secret) : h('p', null, 'Subscription created.'),
        h('p', null, h('a', { href: `#/webhooks/${encodeURIComponent(s.id)}`, 'data-testid': 'webhook-open' }, 'Open the subscription')));
      announce('Subscription created. Copy its secret now.');
      await more.reload();
    },
  }, project, f.events, f.callback_url, h('div', { class: 'grid2' }, f.description, f.rate), f.headers, secret,
  h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'webhook-submit' }, 'Create subscription')));
  ctx.main.append(section('New subscription', create, shown), section('Subscriptions', h('div', { class: 'toolbar' }, filter), tbl, more));
  await more.reload();
}

async function detail(ctx, id) {
  const path = `${SUBS}/${encodeURIComponent(id)}`;
  let s = await api('webhooks', path, { signal: ctx.signal });
  const status = h('p', { class: 'muted', role: 'status' });
  const fail = (e) => { status.textContent = problemText(e); };
  const secretSlot = h('div');
  const info = h('div');
  const renderInfo = () => info.replaceChildren(dl([
    ['State', badge(s.enabled ? 'enabled' : 'disabled', 'webhook-state')], s.disabled_reason ? ['Disabled because', s.disabled_reason] : null,
    s.failing_since ? ['Failing since', fmtDate(s.failing_since)] : null, ['Project', h('code', null, s.project_id)], ['Created', fmtDate(s.created_at)], ['Updated', fmtDate(s.updated_at)],
  ]));

  // edit
  const f = subscriptionFields(s);
  const enabled = field({ label: 'Enabled', name: 'enabled', type: 'checkbox', value: s.enabled, testid: 'webhook-enabled' });
  const edit = form({
    label: 'Edit subscription',
    testid: 'webhook-edit-form',
    onSubmit: async () => {
      s = await api('webhooks', path, { method: 'PATCH', body: { ...bodyOf(f), enabled: enabled.input.checked } });
      renderInfo();
      announce('Subscription saved.');
    },
  }, f.events, f.callback_url, h('div', { class: 'grid2' }, f.description, f.rate), f.headers, enabled, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'webhook-save' }, 'Save')));

  // actions
  const test = h('button', { type: 'button', class: 'secondary', 'data-testid': 'webhook-test' }, 'Send a test event');
  test.addEventListener('click', async () => {
    try { const d = await api('webhooks', `${path}/test`, { method: 'POST' }); status.textContent = `Test delivery ${d.id.slice(0, 8)} queued.`; await deliveries.reload(); } catch (e) { fail(e); }
  });
  const rotate = h('button', { type: 'button', class: 'secondary', 'data-testid': 'webhook-rotate' }, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: 'Rotate the signing secret?', message: 'Deliveries are signed with the new secret from now on; the receiver must be updated.', confirmLabel: 'Rotate' });
    if (!ok) return;
    try {
      s = await api('webhooks', `${path}/rotate-secret`, { method: 'POST', body: {} });
      secretSlot.replaceChildren(secretOnce('New signing secret', s.secret || ''));
      announce('Secret rotated. Copy it now.');
    } catch (e) { fail(e); }
  });
  const del = h('button', { type: 'button', class: 'danger', 'data-testid': 'webhook-delete' }, 'Delete');
  del.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: 'Delete this subscription?', message: 'No more events are delivered to it.', confirmLabel: 'Delete' });
    if (!ok) return;
    try { await api('webhooks', path, { method: 'DELETE' }); announce('Subscription deleted.'); ctx.navigate('#/webhooks'); } catch (e) { fail(e); }
  });

  // recover
  const since = field({ label: 'Send again every event since', name: 'since', type: 'datetime-local', testid: 'recover-since' });
  const recover = form({
    label: 'Recover',
    onSubmit: async () => {
      const v = since.input.value;
      const r = await api('webhooks', `${path}/recover`, { method: 'POST', body: { since: v ? new Date(v).toISOString() : '' } });
      status.textContent = `${r.recovered} deliveries queued again.`;
      await deliveries.reload();
    },
  }, since, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary', 'data-testid': 'recover-submit' }, 'Recover')));

  // deliveries
  const dStatus = field({ label: 'Status', name: 'status', options: [['', 'any'], ['pending', 'pending'], ['succeeded', 'succeeded'], ['failed', 'failed']], testid: 'delivery-filter' });
  const dTable = table([
    { label: 'Event', render: (d) => d.event_type },
    { label: 'Time', render: (d) => fmtDate(d.event_time) },
    { label: 'Status', render: (d) => badge(d.status, 'delivery-status') },
    { label: 'Attempts', class: 'num', render: (d) => `${d.attempts}/${d.max_attempts}` },
    { label: 'Last answer', render: (d) => (d.last_status_code ?? '') + (d.last_error ? ` ${d.last_error}` : '') },
    { label: 'Next attempt', render: (d) => fmtDate(d.next_attempt_at) },
    { label: '', render: (d) => deliveryActions(d) },
  ], [], { caption: 'Deliveries', testid: 'deliveries-table', rowAttrs: (d) => ({ 'data-testid': 'delivery-row', dataset: { id: d.id, status: d.status } }) });
  let openDelivery = null; // the delivery whose attempt log is shown, refreshed with the list
  let refreshTimer = 0;
  ctx.onCleanup(() => clearTimeout(refreshTimer));
  const deliveries = pager((cursor) => api('webhooks', `${path}/deliveries`, { query: { status: dStatus.input.value, limit: 50, cursor }, signal: ctx.signal }), (items, first) => {
    if (first) dTable.setRows(items); else dTable.addRows(items);
    if (!first) return;
    // while deliveries are pending, follow them (their attempts and outcome) without a reload
    clearTimeout(refreshTimer);
    if (items.some((d) => d.status === 'pending') && ctx.isCurrent()) {
      refreshTimer = setTimeout(() => { if (ctx.isCurrent()) deliveries.reload().catch(() => {}); }, 2000);
    }
    if (openDelivery && ctx.isCurrent()) showAttempts(openDelivery, false).catch(() => {});
  });
  dStatus.input.addEventListener('change', () => deliveries.reload().catch(() => {}));
  const refreshDeliveries = h('button', { type: 'button', class: 'secondary', 'data-testid': 'deliveries-refresh' }, 'Refresh');
  refreshDeliveries.addEventListener('click', () => deliveries.reload().catch(() => {}));
  const attemptsBox = h('div', { 'data-testid': 'attempt-log' });

  async function showAttempts(deliveryId, focus) {
    const full = await api('webhooks', `/api/v1/webhooks/deliveries/${encodeURIComponent(deliveryId)}`, { signal: ctx.signal });
    if (!ctx.isCurrent() || (openDelivery && openDelivery !== deliveryId)) return;
    attemptsBox.dataset.delivery = full.id;
    attemptsBox.dataset.status = full.status;
    attemptsBox.replaceChildren(h('h3', { tabindex: '-1' }, `Attempts of ${full.event_type} (${full.id.slice(0, 8)}): `, badge(full.status, 'attempt-log-status')), table([
      { label: '#', class: 'num', render: (a) => String(a.attempt) },
      { label: 'Started', render: (a) => fmtDate(a.started_at) },
      { label: 'Duration', render: (a) => fmtDuration(a.duration_ms) },
      { label: 'Status', render: (a) => h('span', { 'data-testid': 'attempt-status' }, a.status_code == null ? 'no answer' : String(a.status_code)) },
      { label: 'Error', render: (a) => a.error || '' },
      { label: 'Answer', render: (a) => (a.response_body == null ? '' : h('details', null, h('summary', null, 'body'), h('pre', { class: 'json' }, a.response_body))) },
    ], full.attempt_log || [], { caption: 'Attempt log', empty: full.status === 'pending' ? 'No attempt yet; the first one is on its way.' : 'No attempt yet.', rowAttrs: (a) => ({ 'data-testid': 'attempt-row', dataset: { attempt: a.attempt, statusCode: a.status_code ?? '' } }) }));
    if (focus) attemptsBox.querySelector('h3').focus();
  }

  function deliveryActions(d) {
    const box = h('div', { class: 'row-actions' });
    const show = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'delivery-attempts' }, 'Attempts');
    show.addEventListener('click', async () => {
      openDelivery = d.id;
      try { await showAttempts(d.id, true); } catch (e) { if (e?.name !== 'AbortError') fail(e); }
    });
    box.append(show);
    if (d.status !== 'succeeded') {
      const retry = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'delivery-retry' }, 'Retry');
      retry.addEventListener('click', async () => {
        try { await api('webhooks', `/api/v1/webhooks/deliveries/${encodeURIComponent(d.id)}/retry`, { method: 'POST' }); announce('Delivery queued again.'); await deliveries.reload(); } catch (e) { fail(e); }
      });
      box.append(retry);
    }
    return box;
  }

  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/webhooks' }, 'Webhooks'), ' / '),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, s.description || s.callback_url), h('div', { class: 'page-actions' }, test, rotate, del)),
    status, secretSlot, info,
    h('details', { class: 'card' }, h('summary', null, 'Edit'), edit),
    h('details', { class: 'card' }, h('summary', null, 'Recover missed events'), recover),
    section('Deliveries', h('div', { class: 'toolbar' }, dStatus, refreshDeliveries), dTable, deliveries, attemptsBox));
  renderInfo();
  await deliveries.reload();
}
