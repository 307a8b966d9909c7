import { api, accessToken, config } from '../api.js';
import { h, pageHeader, section, field, form, table, pager, badge, fmtDate, announce, problemText } from '../dom.js';
import { LogView, displayText } from '../logview.js';
import { Tail, tailURL } from '../tail.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];
const EVENTS = ['pre_build', 'build_start', 'build_complete', 'build_error', 'pre_deploy', 'deploy_start', 'deploy_complete', 'deploy_error', 'post_deploy', 'health_check', 'scale_event', 'config_change'];
const toISO = (local) => (local ? new Date(local).toISOString() : undefined);

export default async function logs(ctx) {
  ctx.main.append(pageHeader('Logs'));
  const q = ctx.query;
  const f = {
    app_name: field({ label: 'App', name: 'app_name', value: q.app_name, testid: 'logs-app' }),
    deployment_id: field({ label: 'Deployment id', name: 'deployment_id', value: q.deployment_id, testid: 'logs-deployment' }),
    project_id: field({ label: 'Project id', name: 'project_id', value: q.project_id, testid: 'logs-project' }),
    level: field({ label: 'Minimum level', name: 'level', options: [['', 'any'], ...LEVELS.map((l) => [l, l])], value: q.level, testid: 'logs-level' }),
    event_type: field({ label: 'Event type', name: 'event_type', options: [['', 'any'], ...EVENTS.map((e) => [e, e])], value: q.event_type }),
    q: field({ label: 'Message contains', name: 'q', type: 'search', value: q.q, testid: 'logs-q', hint: 'Case-sensitive.' }),
    since_minutes: field({ label: 'Last minutes', name: 'since_minutes', type: 'number', value: q.since_minutes || '60' }),
    since: field({ label: 'From', name: 'since', type: 'datetime-local', hint: 'Replaces "last minutes".' }),
    until: field({ label: 'Until', name: 'until', type: 'datetime-local' }),
    order: field({ label: 'Order', name: 'order', options: [['desc', 'newest first'], ['asc', 'oldest first']] }),
    limit: field({ label: 'Page size', name: 'limit', type: 'number', value: '200', attrs: { min: '1', max: '10000' } }),
  };
  const filters = () => {
    const v = (k) => f[k].input.value.trim();
    const out = { app_name: v('app_name'), deployment_id: v('deployment_id'), project_id: v('project_id'), level: v('level'), event_type: v('event_type'), q: v('q'), order: v('order'), limit: v('limit') };
    if (v('since')) out.since = toISO(v('since')); else out.since_minutes = v('since_minutes');
    if (v('until')) out.until = toISO(v('until'));
    return out;
  };

  // ---- query ----
  const results = table([
    { label: 'Time', render: (e) => fmtDate(e.timestamp) },
    { label: 'Level', render: (e) => badge(e.level, 'log-level') },
    { label: 'App', render: (e) => e.flukedeploy_metadata?.app_name || '—' },
    { label: 'Service', render: (e) => e.source?.service || '' },
    { label: 'Message', class: 'msg', render: (e) => h('span', { class: 'mono' }, displayText(e.message)) },
    { label: 'Deployment', render: (e) => (e.flukedeploy_metadata?.deployment_id ? h('a', { href: `#/deployments/${encodeURIComponent(e.flukedeploy_metadata.deployment_id)}` }, e.flukedeploy_metadata.deployment_id.slice(0, 8)) : '') },
  ], [], { caption: 'Log entries', testid: 'logs-results', empty: 'No entries match.', rowAttrs: (e) => ({ 'data-testid': 'log-row', dataset: { level: e.level } }) });
  let current = {};
  const more = pager((cursor) => api('logs', '/api/v1/logs', { query: { ...current, cursor }, signal: ctx.signal }),
    (items, first) => (first ? results.setRows(items) : results.addRows(items)));
  const queryForm = form({
    label: 'Query logs',
    testid: 'logs-form',
    onSubmit: async () => {
      current = filters();
      await more.reload();
    },
  }, h('div', { class: 'grid3' }, f.app_name, f.deployment_id, f.project_id), h('div', { class: 'grid3' }, f.level, f.event_type, f.q),
  h('div', { class: 'grid3' }, f.since_minutes, f.since, f.until), h('div', { class: 'grid3' }, f.order, f.limit,
    h('div', { class: 'actions end' }, h('button', { type: 'submit', 'data-testid': 'logs-submit' }, 'Search'))));

  // ---- live tail ----
  const view = new LogView({ label: 'Live log lines', filename: 'live-tail.txt' });
  ctx.setLogView(view);
  ctx.onCleanup(() => view.destroy());
  const tailState = h('span', { class: 'muted', 'data-testid': 'tail-state' }, 'off');
  const toggle = h('button', { type: 'button', 'data-testid': 'tail-toggle', 'aria-pressed': 'false' }, 'Start live tail');
  const pause = h('button', { type: 'button', class: 'secondary', 'data-testid': 'tail-pause', hidden: true, 'aria-pressed': 'false' }, 'Pause');
  const notices = h('div', { class: 'notices', 'data-testid': 'tail-notices' });
  let tail = null;
  let lastSeen = null; // the last entry shown, for a gap's start
  let gaps = [];

  const start = () => {
    const all = filters();
    const tf = { app_name: all.app_name, deployment_id: all.deployment_id, project_id: all.project_id, level: all.level, event_type: all.event_type };
    tail = new Tail(tf, {
      onEntries: (entries) => {
        // the first entry after a gap closes it (control messages come between batches)
        for (const g of gaps) g.after ??= entries[0];
        gaps = [];
        view.append(entries);
        lastSeen = entries[entries.length - 1];
      },
      onControl: (m) => {
        if (m.type === 'dropped') dropped(m, tf);
        else if (m.type === 'error') notices.append(h('p', { class: 'notice', role: 'status' }, `Live tail: ${m.code}${m.message ? ` — ${m.message}` : ''}`));
      },
      onState: (s, detail) => { tailState.textContent = s + (detail ? `: ${detail}` : ''); },
    }, { since: new Date(Date.now() - 5 * 60000).toISOString() });
    tail.start();
    toggle.textContent = 'Stop live tail';
    toggle.setAttribute('aria-pressed', 'true');
    pause.hidden = false;
  };
  const stop = () => {
    tail?.stop();
    tail = null;
    toggle.textContent = 'Start live tail';
    toggle.setAttribute('aria-pressed', 'false');
    pause.hidden = true;
    pause.textContent = 'Pause';
    pause.setAttribute('aria-pressed', 'false');
  };
  toggle.addEventListener('click', () => (tail ? stop() : start()));
  // Pause closes the socket; Resume reconnects with since_id = the last entry seen: nothing is missed.
  pause.addEventListener('click', () => {
    if (!tail) return;
    if (tail.stopped) { tail.start(); pause.textContent = 'Pause'; pause.setAttribute('aria-pressed', 'false'); announce('Live tail resumed.'); }
    else { tail.stop(); tailState.textContent = 'paused'; pause.textContent = 'Resume'; pause.setAttribute('aria-pressed', 'true'); announce('Live tail paused.'); }
  });
  ctx.onCleanup(() => tail?.stop());

  function dropped(m, tf) {
    const gap = { since_id: m.since_id, count: m.count, before: lastSeen, after: null };
    gaps.push(gap);
    view.mark(`${m.count} entries dropped here`);
    const status = h('span', { role: 'status' });
    const fill = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'fill-gap' }, 'Fill the gap');
    fill.addEventListener('click', async () => {
      fill.disabled = true;
      status.textContent = 'Loading…';
      try {
        const got = await fillGap(gap, tf);
        const added = view.insertAfter(gap.since_id || gap.before?.id, got);
        status.textContent = `${added} entries filled in.`;
        fill.hidden = true;
      } catch (e) {
        status.textContent = problemText(e);
        fill.disabled = false;
      }
    });
    notices.append(h('div', { class: 'notice', 'data-testid': 'dropped-notice', dataset: { count: m.count, sinceId: m.since_id ?? '' } },
      `${m.count} entries could not be sent (the connection was too slow) after ${m.since_id ? `entry ${m.since_id}` : 'the start'}. `, fill, ' ', status));
  }

  panel(ctx, section('Query', queryForm, results, more),
    section('Live tail', h('div', { class: 'toolbar' }, toggle, pause, h('span', null, 'State: ', tailState)),
      h('p', { class: 'muted small' }, 'Uses the App, Deployment id, Project id, Minimum level and Event type filters above.'), notices, view.el));
  if (Object.keys(q).length) { current = filters(); await more.reload(); }
}

function panel(ctx, ...children) { ctx.main.append(...children); }

/**
 * The entries a gap lost, exactly: a second tail replays the same filters from the gap's
 * since_id (stream order, as the live tail sends them) until the first entry after the gap, or
 * until it is live; the view drops the ones it already has.
 */
export async function fillGap(gap, tf) {
  const token = await accessToken();
  const base = config()?.log_stream_url;
  const url = tailURL(base, tf, gap.since_id ? { sinceId: gap.since_id, token } : { since: new Date(Date.now() - 3600000).toISOString(), token });
  return new Promise((resolve, reject) => {
    const items = [];
    const ws = new WebSocket(url);
    const finish = (error) => {
      clearTimeout(timer);
      ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, 'gap filled'); } catch { /* closed */ }
      if (error && !items.length) reject(error); else resolve(items);
    };
    const timer = setTimeout(() => finish(new Error('the replay took longer than 20 s')), 20000);
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (!m || typeof m !== 'object') return;
      if (typeof m.type === 'string' && m['@type'] === undefined) {
        if (m.type === 'live') finish();
        else if (m.type === 'error') finish(new Error(m.detail || m.code || 'the replay was refused'));
        return;
      }
      if (gap.after && m.id === gap.after.id) { finish(); return; }
      items.push(m);
      if (items.length >= 100000) finish();
    };
    ws.onerror = () => finish(new Error('log-streamer cannot be reached'));
    ws.onclose = (ev) => finish(new Error(`the replay closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`));
  });
}
