import { api } from '../api.js';
import { h, table, field, form, badge, fmtDate, fmtDuration, confirmDialog, announce, problemText, dl, link, section, pager } from '../dom.js';

const ACTIVE = new Set(['pending', 'building', 'deploying']);

export default async function appPage(ctx) {
  const [name] = ctx.params;
  const path = `/api/v1/apps/${encodeURIComponent(name)}`;
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'app-status-line' });
  const fail = (e) => { status.textContent = problemText(e); };
  const summary = h('div');
  const releases = table([
    { label: 'Version', render: (r) => [r.version, r.current ? [' ', h('span', { class: 'badge badge-current' }, 'current')] : null] },
    { label: 'Image / artifact', render: (r) => h('code', null, r.image || r.artifact || '—') },
    { label: 'Created', render: (r) => fmtDate(r.created_at) },
    { label: 'Deployment', render: (r) => (r.deployment_id ? h('a', { href: `#/deployments/${encodeURIComponent(r.deployment_id)}` }, r.deployment_id.slice(0, 8)) : '—') },
    { label: '', render: (r) => (r.current ? '' : rollbackButton(r)) },
  ], [], { caption: 'Releases', testid: 'releases-table', rowAttrs: (r) => ({ 'data-testid': 'release-row', dataset: { version: r.version, current: !!r.current } }) });
  const deployments = table([
    { label: 'When', render: (d) => h('a', { href: `#/deployments/${encodeURIComponent(d.id || d.deployment_id)}` }, fmtDate(d.created_at)) },
    { label: 'Kind', render: (d) => d.kind },
    { label: 'Version', render: (d) => d.version || '—' },
    { label: 'Status', render: (d) => badge(d.status, 'deployment-status') },
    { label: 'Duration', render: (d) => fmtDuration(d.duration_ms) },
    { label: 'Reason / error', render: (d) => d.error || d.reason || '' },
    { label: '', render: (d) => (ACTIVE.has(d.status) ? cancelButton(d) : '') },
  ], [], { caption: 'Deployments', testid: 'deployments-table', rowAttrs: (d) => ({ 'data-testid': 'deployment-row', dataset: { id: d.id || d.deployment_id, status: d.status } }) });

  function rollbackButton(r) {
    const b = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'rollback' }, 'Roll back to this release');
    b.addEventListener('click', async () => {
      const { ok, reason } = await confirmDialog({ title: `Roll ${name} back to ${r.version}?`, message: 'The release\'s kept image or artifact is deployed again, without a rebuild.', confirmLabel: 'Roll back', reason: true, reasonLabel: 'Reason (recorded with the rollback)' });
      if (!ok) return;
      try {
        const d = await api('deploy', `${path}/rollback`, { method: 'POST', body: { version: r.version, ...(reason ? { reason } : {}) } });
        announce(`Rollback to ${r.version} queued.`);
        ctx.navigate(`#/deployments/${encodeURIComponent(d.id || d.deployment_id)}`);
      } catch (e) { fail(e); }
    });
    return b;
  }
  function cancelButton(d) {
    const b = h('button', { type: 'button', class: 'danger small', 'data-testid': 'cancel-deployment' }, 'Cancel');
    b.addEventListener('click', async () => {
      const { ok } = await confirmDialog({ title: 'Cancel this deployment?', confirmLabel: 'Cancel deployment' });
      if (!ok) return;
      try { await api('deploy', `/api/v1/deployments/${encodeURIComponent(d.id || d.deployment_id)}/cancel`, { method: 'POST' }); announce('Cancellation requested.'); await load(); } catch (e) { fail(e); }
    });
    return b;
  }

  // deploy from an image
  const image = field({ label: 'Image', name: 'image', required: true, testid: 'deploy-image', hint: 'e.g. registry.example.com/app:1.2.3' });
  const version = field({ label: 'Version', name: 'version', testid: 'deploy-version' });
  const level = field({ label: 'Validation', name: 'validation_level', options: [['standard', 'standard'], ['basic', 'basic'], ['strict', 'strict']] });
  const autoRb = field({ label: 'Roll back automatically on failure', name: 'auto_rollback', type: 'checkbox', value: true });
  const deployForm = form({
    label: 'Deploy an image',
    testid: 'deploy-form',
    onSubmit: async () => {
      const body = { app_name: name, image: image.input.value.trim(), validation_level: level.input.value, auto_rollback: autoRb.input.checked };
      if (version.input.value.trim()) body.version = version.input.value.trim();
      const d = await api('deploy', '/api/v1/deploy', { method: 'POST', body });
      announce('Deployment queued.');
      ctx.navigate(`#/deployments/${encodeURIComponent(d.id || d.deployment_id)}`);
    },
  }, h('div', { class: 'grid2' }, image, version), h('div', { class: 'grid2' }, level, autoRb), h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'deploy-submit' }, 'Deploy')));

  // deploy from git (what the process executor builds; a file:// URL names a repository on the server)
  const gitURL = field({ label: 'Git repository URL', name: 'source.git', required: true, testid: 'deploy-git-url', hint: 'https, ssh, git or file URL', attrs: { autocomplete: 'off', spellcheck: 'false' } });
  const gitRef = field({ label: 'Ref', name: 'source.ref', testid: 'deploy-git-ref', hint: 'a branch, tag or commit; empty: HEAD', attrs: { autocomplete: 'off', spellcheck: 'false' } });
  const gitVersion = field({ label: 'Version (optional)', name: 'version', testid: 'deploy-git-version', hint: 'the image tag (swarm, kubernetes)' });
  const gitAutoRb = field({ label: 'Roll back automatically on failure', name: 'auto_rollback', type: 'checkbox', value: true, testid: 'deploy-git-auto-rollback' });
  const gitForm = form({
    label: 'Deploy from git',
    testid: 'deploy-git-form',
    onSubmit: async () => {
      const source = { git: gitURL.input.value.trim() };
      if (gitRef.input.value.trim()) source.ref = gitRef.input.value.trim();
      const body = { app_name: name, source, auto_rollback: gitAutoRb.input.checked };
      if (!gitVersion.hidden && gitVersion.input.value.trim()) body.version = gitVersion.input.value.trim();
      const d = await api('deploy', '/api/v1/deploy', { method: 'POST', body });
      announce('Deployment queued.');
      ctx.navigate(`#/deployments/${encodeURIComponent(d.id || d.deployment_id)}`);
    },
  }, gitURL, h('div', { class: 'grid2' }, gitRef, gitVersion), gitAutoRb, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'deploy-git-submit' }, 'Deploy')));

  const replicas = field({ label: 'Replicas', name: 'replicas', type: 'number', testid: 'scale-replicas', attrs: { min: '0', max: '100' } });
  const scaleForm = form({
    label: 'Scale',
    testid: 'scale-form',
    onSubmit: async () => {
      await api('deploy', `${path}/scale`, { method: 'POST', body: { replicas: Number(replicas.input.value) } });
      announce('Scaled.');
      await load();
    },
  }, replicas, h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'scale-submit' }, 'Scale')));

  const restart = h('button', { type: 'button', class: 'secondary', 'data-testid': 'app-restart' }, 'Restart');
  restart.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: `Restart ${name}?`, message: 'Every replica is restarted.', confirmLabel: 'Restart' });
    if (!ok) return;
    try { await api('deploy', `${path}/restart`, { method: 'POST' }); announce('Restart requested.'); await load(); } catch (e) { fail(e); }
  });
  const del = h('button', { type: 'button', class: 'danger', 'data-testid': 'app-delete' }, 'Delete app');
  del.addEventListener('click', async () => {
    const { ok } = await confirmDialog({ title: `Delete ${name}?`, message: 'The app, its replicas and releases are removed.', confirmLabel: 'Delete app' });
    if (!ok) return;
    try { await api('deploy', path, { method: 'DELETE' }); announce('App deleted.'); ctx.navigate('#/apps'); } catch (e) { fail(e); }
  });

  // Older deployments page in with the list's cursor.
  const moreDeployments = pager((cursor) => api('deploy', `${path}/deployments`, { query: { limit: 20, cursor }, signal: ctx.signal }),
    (items, first) => (first ? deployments.setRows(items) : deployments.addRows(items)), { label: 'Older deployments' });

  async function load() {
    const [a, rel] = await Promise.all([
      api('deploy', path, { signal: ctx.signal }),
      api('deploy', `${path}/releases`, { signal: ctx.signal }),
      moreDeployments.reload(),
    ]);
    if (!ctx.isCurrent()) return;
    replicas.input.value = String(a.spec?.replicas ?? 1);
    // the process executor numbers its releases itself: a version is an image tag
    gitVersion.hidden = a.executor === 'process';
    summary.replaceChildren(dl([
      ['Status', badge(a.status || 'unknown', 'app-status')], ['Current release', h('span', { 'data-testid': 'app-current-release' }, a.current_release || '—')], ['Executor', a.executor],
      ['URL', a.url ? link(a.url, a.url, { rel: 'noopener noreferrer', target: '_blank', 'data-testid': 'app-url' }) : '—'],
      ['Project', a.project_id ? h('a', { href: `#/projects/${encodeURIComponent(a.project_id)}` }, a.project_id.slice(0, 8)) : '—'],
      ['Logs', h('a', { href: `#/logs?app_name=${encodeURIComponent(a.name)}` }, 'Open in the logs explorer')],
    ]), table([
      { label: 'Replica', render: (r) => h('code', null, r.id) }, { label: 'State', render: (r) => badge(r.state, 'replica-state') },
      { label: 'Version', render: (r) => r.version || '—' }, { label: 'Address', render: (r) => r.address || '—' }, { label: 'Restarts', class: 'num', render: (r) => String(r.restarts ?? 0) },
    ], a.replicas || [], { caption: 'Replicas', empty: 'No replicas running.' }));
    releases.setRows(rel.items || []);
  }

  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/apps' }, 'Apps'), ' / '),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, name), h('div', { class: 'page-actions' }, restart, del)),
    status, summary,
    h('div', { class: 'grid2 cards' }, section('Deploy from git', gitForm), section('Deploy an image', deployForm)),
    section('Scale', scaleForm),
    section('Releases (newest first)', releases),
    section('Deployments', deployments, moreDeployments));
  await load();
}
