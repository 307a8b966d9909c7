import { api } from '../api.js';
import { h, badge, fmtDate, fmtDuration, dl, confirmDialog, announce, problemText, section, versionLabel, clean } from '../dom.js';
import { LogView } from '../logview.js';
import { Tail } from '../tail.js';

export const PHASES = ['pre_build', 'build', 'pre_deploy', 'deploy', 'post_deploy'];
const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled']);

/** Phase rows for the five phases, in order, whatever the API listed. */
export function phaseRows(d, now = Date.now()) {
  const byName = new Map((d.phases || []).map((p) => [p.name, p]));
  return PHASES.map((name) => {
    const p = byName.get(name) || {};
    const state = p.state || 'pending';
    let ms = p.duration_ms;
    if (ms == null && p.started_at) ms = (p.ended_at ? new Date(p.ended_at).getTime() : now) - new Date(p.started_at).getTime();
    return { name, state, ms: ms ?? null, error: p.error || null, started_at: p.started_at };
  });
}

export default async function deploymentPage(ctx) {
  const [id] = ctx.params;
  const path = `/api/v1/deployments/${encodeURIComponent(id)}`;
  let d = await api('deploy', path, { signal: ctx.signal });
  if (!ctx.isCurrent()) return;

  // the version is known once the deployment is claimed: the title follows it
  const titleText = () => {
    const ver = versionLabel(d.version);
    return d.kind === 'rollback' ? `Roll ${d.app_name} back${ver ? ` to ${ver}` : ''}` : `Deploy ${d.app_name}${ver ? ` ${ver}` : ''}`;
  };
  const title = h('h1', { tabindex: '-1' }, titleText());
  const statusSlot = h('span', { 'data-testid': 'deployment-status-slot' });
  const info = h('div');
  const phasesEl = h('ol', { class: 'phases', 'data-testid': 'phases' });
  const live = h('p', { class: 'muted', role: 'status', 'data-testid': 'deployment-live' });
  const tailState = h('span', { class: 'muted small', 'data-testid': 'tail-state' });
  const cancel = h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel-deployment', hidden: true }, 'Cancel deployment');
  cancel.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: 'Cancel this deployment?', confirmLabel: 'Cancel deployment' });
    if (!ok) return;
    try { d = await api('deploy', `${path}/cancel`, { method: 'POST' }); render(); announce('Cancellation requested.'); } catch (e) { live.textContent = problemText(e); }
  });

  function render() {
    const t = clean(titleText());
    if (title.textContent !== t) { title.textContent = t; document.title = `${t} · FlukeBase Fleet`; }
    statusSlot.replaceChildren(badge(d.status, 'deployment-status'));
    cancel.hidden = TERMINAL.has(d.status);
    info.replaceChildren(dl([
      ['App', h('a', { href: `#/apps/${encodeURIComponent(d.app_name)}` }, d.app_name)], ['Kind', d.kind], ['Image', d.image || '—'],
      ['Requested', fmtDate(d.created_at)], ['Started', fmtDate(d.started_at)], ['Finished', fmtDate(d.finished_at)],
      ['Duration', fmtDuration(d.duration_ms ?? (d.started_at ? (d.finished_at ? new Date(d.finished_at) : Date.now()) - new Date(d.started_at) : null))],
      d.reason ? ['Reason', d.reason] : null, d.error ? ['Error', h('span', { class: 'error-text' }, d.error)] : null,
      d.failure_kind ? ['Failure kind', d.failure_kind] : null,
      d.rollback_of ? ['Rollback of', h('a', { href: `#/deployments/${encodeURIComponent(d.rollback_of)}` }, d.rollback_of.slice(0, 8))] : null,
      d.rolled_back_by ? ['Rolled back by', h('a', { href: `#/deployments/${encodeURIComponent(d.rolled_back_by)}` }, d.rolled_back_by.slice(0, 8))] : null,
    ]));
    phasesEl.replaceChildren(...phaseRows(d).map((p) => h('li', { class: `phase phase-${p.state}`, 'data-testid': 'phase-item', dataset: { phase: p.name, state: p.state } },
      h('span', { class: 'phase-name' }, p.name.replace(/_/g, ' ')), ' ',
      badge(p.state, 'phase-state'), ' ',
      h('span', { class: 'phase-duration muted', 'data-testid': 'phase-duration' }, p.ms == null ? '' : fmtDuration(p.ms)),
      p.error ? h('p', { class: 'error-text' }, p.error) : null)));
  }

  const view = new LogView({ label: `Log lines of deployment ${id}`, filename: `deployment-${id}.txt` });
  ctx.setLogView(view);
  ctx.onCleanup(() => view.destroy());

  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/apps' }, 'Apps'), ' / ', h('a', { href: `#/apps/${encodeURIComponent(d.app_name)}` }, d.app_name), ' / '),
    h('div', { class: 'page-head' }, title, h('div', { class: 'page-actions' }, statusSlot, cancel)),
    live, info,
    section('Phases', phasesEl),
    section('Log', h('p', null, 'Following live ', tailState), view.el));
  render();

  // poll until settled; log entries with an event type poll at once. A failed deployment whose
  // automatic rollback is under way (rolled_back_by) is not settled: it becomes rolled_back once
  // that rollback succeeds, so it is followed until the rollback itself has finished.
  let timer = 0;
  let polling = false;
  let following = !TERMINAL.has(d.status) || (d.status === 'failed' && !!d.rolled_back_by);
  const liveText = () => {
    if (!TERMINAL.has(d.status)) return '';
    if (following) return 'Failed: rolling back to the release that served before…';
    return `Finished: ${d.status.replace(/_/g, ' ')}.`;
  };
  const rollbackRunning = async () => {
    if (d.status !== 'failed' || !d.rolled_back_by) return false;
    try {
      const r = await api('deploy', `/api/v1/deployments/${encodeURIComponent(d.rolled_back_by)}`, { signal: ctx.signal });
      return !TERMINAL.has(r.status);
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      return false; // the rollback cannot be read: stop following
    }
  };
  const poll = async () => {
    clearTimeout(timer);
    if (polling || !ctx.isCurrent()) return;
    polling = true;
    try {
      d = await api('deploy', path);
      if (!ctx.isCurrent()) return;
      if (TERMINAL.has(d.status)) {
        const wasRollingBack = d.status === 'failed' && !!d.rolled_back_by;
        following = await rollbackRunning();
        // the rollback has just finished: read this deployment's outcome (rolled_back or failed)
        if (!following && wasRollingBack) d = await api('deploy', path);
      }
      if (!ctx.isCurrent()) return;
      render();
      live.textContent = liveText();
    } catch (e) { live.textContent = problemText(e); } finally { polling = false; }
    if ((following || !TERMINAL.has(d.status)) && ctx.isCurrent()) timer = setTimeout(poll, 1000);
  };
  ctx.onCleanup(() => clearTimeout(timer));
  if (following) timer = setTimeout(poll, 1000);
  live.textContent = liveText();

  // the log: from the deployment's start over the WebSocket (replay, then live)
  const since = new Date(new Date(d.created_at || Date.now()).getTime() - 60000).toISOString();
  const tail = new Tail({ deployment_id: id }, {
    onEntries: (entries) => {
      view.append(entries);
      if (following && entries.some((e) => e.flukedeploy_metadata?.event_type)) poll();
    },
    onControl: (m) => {
      if (m.type === 'dropped') view.mark(`${m.count} lines were dropped here (the connection was too slow); they are in the logs explorer`);
      else if (m.type === 'error') view.mark(`log stream: ${m.code}${m.message ? ` — ${m.message}` : ''}`);
    },
    onState: (s, detail) => { tailState.textContent = `(${s}${detail ? `: ${detail}` : ''})`; },
  }, { since });
  tail.start();
  ctx.onCleanup(() => tail.stop());
}
