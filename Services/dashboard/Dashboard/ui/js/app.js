// The shell: boot (config, session from the refresh cookie), header, hash router.
import { loadConfig, refresh, signedIn, onSession, signOut, tenants, current, config } from './api.js';
import { h, $, announce, alertBox, problemText, clean } from './dom.js';

const pages = {
  signin: () => import('./pages/signin.js'),
  overview: () => import('./pages/overview.js'),
  projects: () => import('./pages/projects.js'),
  project: () => import('./pages/project.js'),
  apps: () => import('./pages/apps.js'),
  app: () => import('./pages/app.js'),
  deployment: () => import('./pages/deployment.js'),
  logs: () => import('./pages/logs.js'),
  catalog: () => import('./pages/catalog.js'),
  webhooks: () => import('./pages/webhooks.js'),
  settings: () => import('./pages/settings.js'),
};

const routes = [
  [/^\/signin$/, 'signin'],
  [/^\/overview$/, 'overview'],
  [/^\/projects$/, 'projects'],
  [/^\/projects\/([^/]+)(?:\/([a-z]+))?$/, 'project'],
  [/^\/apps$/, 'apps'],
  [/^\/apps\/([^/]+)$/, 'app'],
  [/^\/deployments\/([^/]+)$/, 'deployment'],
  [/^\/logs$/, 'logs'],
  [/^\/catalog(?:\/([^/]+))?$/, 'catalog'],
  [/^\/webhooks(?:\/([^/]+))?$/, 'webhooks'],
  [/^\/settings(?:\/([a-z]+))?$/, 'settings'],
];

const nav = [
  ['#/overview', 'Overview', /^\/overview/],
  ['#/projects', 'Projects', /^\/projects/],
  ['#/apps', 'Apps', /^\/(apps|deployments)/],
  ['#/logs', 'Logs', /^\/logs/],
  ['#/catalog', 'Catalog', /^\/catalog/],
  ['#/webhooks', 'Webhooks', /^\/webhooks/],
  ['#/settings', 'Settings', /^\/settings/],
];

const main = document.getElementById('app');
const topbar = document.getElementById('topbar');
let navSeq = 0;
let cleanups = [];
let controller = null;
const fluke = { logView: null };
Object.defineProperty(window, '__fluke', { value: fluke, configurable: false, writable: false });

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/overview';
  const [path, qs] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(qs || '')) };
}

function match(path) {
  for (const [re, name] of routes) {
    const m = path.match(re);
    if (m) return { name, params: m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))) };
  }
  return null;
}

function runCleanups() {
  controller?.abort();
  for (const fn of cleanups.splice(0)) { try { fn(); } catch { /* ignore */ } }
  fluke.logView = null;
}

async function route() {
  const seq = ++navSeq;
  runCleanups();
  controller = new AbortController();
  const { path, query } = parseHash();
  const m = match(path);
  if (!signedIn() && path !== '/signin') {
    location.replace(`#/signin?next=${encodeURIComponent(path + (location.hash.includes('?') ? `?${location.hash.split('?')[1]}` : ''))}`);
    return;
  }
  if (signedIn() && path === '/signin') { location.replace('#/overview'); return; }
  renderHeader(path);
  main.dataset.page = m ? m.name : 'notfound';
  main.dataset.ready = 'false';
  main.setAttribute('aria-busy', 'true');
  if (!m) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, h('a', { href: '#/overview' }, 'Back to the overview')));
    finish(seq, 'notfound');
    return;
  }
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  let mod;
  try {
    mod = await pages[m.name]();
  } catch (e) {
    if (seq !== navSeq) return;
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Could not load this page'), alertBox(e));
    finish(seq, m.name);
    return;
  }
  if (seq !== navSeq) return;
  main.replaceChildren();
  const ctx = {
    main,
    params: m.params,
    query,
    signal: controller.signal,
    isCurrent: () => seq === navSeq,
    onCleanup: (fn) => cleanups.push(fn),
    setLogView: (lv) => { fluke.logView = lv; },
    navigate: (hash) => { location.hash = hash; },
    rerender: () => route(),
  };
  try {
    await mod.default(ctx);
  } catch (e) {
    if (seq !== navSeq || e?.name === 'AbortError') return;
    if (!main.querySelector('h1')) main.prepend(h('h1', { tabindex: '-1' }, 'Something went wrong'));
    main.appendChild(alertBox(e));
  }
  finish(seq, m.name);
}

function finish(seq, name) {
  if (seq !== navSeq) return;
  main.dataset.ready = 'true';
  main.removeAttribute('aria-busy');
  performance.mark('fluke:interactive', { detail: { page: name, hash: location.hash } });
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
    document.title = `${clean(h1.textContent)} · FlukeBase Fleet`;
  }
}

// ---- header --------------------------------------------------------------------------------

let tenantSelect = null;
let headerBuilt = false;

function renderHeader(path) {
  if (!signedIn()) { topbar.hidden = true; topbar.replaceChildren(); headerBuilt = false; return; }
  if (!headerBuilt) buildHeader();
  for (const a of topbar.querySelectorAll('nav a')) {
    if (a.dataset.match && new RegExp(a.dataset.match).test(path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function buildHeader() {
  headerBuilt = true;
  topbar.hidden = false;
  tenantSelect = h('select', { id: 'tenant-switch', 'data-testid': 'tenant-switch' }, h('option', { value: current().tenantId || '' }, 'Current tenant'));
  tenantSelect.addEventListener('change', async () => {
    const id = tenantSelect.value;
    if (!id || id === current().tenantId) return;
    tenantSelect.disabled = true;
    try {
      await refresh(id);
      announce('Switched tenant.');
      await route();
    } catch (e) {
      announce(`Could not switch tenant: ${problemText(e)}`);
    } finally {
      tenantSelect.disabled = false;
      tenantSelect.value = current().tenantId || '';
    }
  });
  const tenantWrap = h('div', { class: 'tenant', hidden: true }, h('label', { for: 'tenant-switch' }, 'Tenant'), tenantSelect);
  const out = h('button', { type: 'button', class: 'secondary', 'data-testid': 'signout' }, 'Sign out');
  out.addEventListener('click', async () => {
    out.disabled = true;
    try { await signOut(); } catch { /* the session is cleared anyway */ }
    out.disabled = false;
  });
  topbar.replaceChildren(
    h('a', { class: 'brand', href: '#/overview' }, 'FlukeBase Fleet'),
    h('nav', { 'aria-label': 'Main' }, h('ul', null, nav.map(([href, text, re]) => h('li', null, h('a', { href, dataset: { match: re.source } }, text))))),
    h('div', { class: 'session' }, tenantWrap, out),
  );
  tenants().then((items) => {
    if (items.length < 2) return;
    tenantSelect.replaceChildren(...items.map((t) => h('option', { value: t.id, selected: t.id === current().tenantId }, `${t.name} (${t.role})`)));
    tenantWrap.hidden = false;
  }).catch(() => {});
}

onSession((s) => {
  if (!s.token) {
    headerBuilt = false;
    topbar.hidden = true;
    topbar.replaceChildren();
    if (!location.hash.startsWith('#/signin')) location.hash = '#/signin';
  } else if (tenantSelect && s.tenantId && tenantSelect.value !== s.tenantId) {
    tenantSelect.value = s.tenantId;
  }
});

// ---- boot ----------------------------------------------------------------------------------

document.getElementById('skip')?.addEventListener('click', () => { (main.querySelector('h1') || main).focus(); });

async function boot() {
  const m = match(parseHash().path);
  if (m) pages[m.name]().catch(() => {}); // fetch the page's module while the session is renewed
  try {
    await loadConfig();
  } catch (e) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'The dashboard cannot start'), alertBox(e));
    return;
  }
  try { await refresh(); } catch { /* no session: sign in */ }
  window.addEventListener('hashchange', route);
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/overview');
  route();
}

export { config, fluke };
boot();
