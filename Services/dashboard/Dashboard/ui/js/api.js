// Configuration, the session (access token in memory only), the fetch wrapper and problems.

let cfg = null;
const session = { token: null, expiresAt: 0, tenantId: null, userId: null, role: null, scopes: null };
let refreshTimer = 0;
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super([problem?.title, problem?.detail].filter(Boolean).join(': ') || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function loadConfig() {
  if (cfg) return cfg;
  const r = await fetch('./config.json', { credentials: 'same-origin', cache: 'no-store' });
  if (!r.ok) throw new ApiError(r.status, { title: 'Configuration unavailable', status: r.status, detail: 'GET /ui/config.json failed' });
  cfg = await r.json();
  return cfg;
}

export const config = () => cfg;
export const current = () => ({ ...session });
export const signedIn = () => !!session.token;
export const onSession = (fn) => { listeners.add(fn); return () => listeners.delete(fn); };
const emit = () => { for (const fn of listeners) fn(current()); };

/** The base URL of a service. project-manager serves this page, so it is the page's origin. */
export function base(service) {
  if (service === 'pm' || service === 'project_manager') return location.origin;
  const names = { context: 'context_api', deploy: 'deploy_tracker', logs: 'log_streamer', webhooks: 'webhook_dispatcher', fed: 'federation' };
  const url = cfg?.services?.[names[service] || service];
  if (!url) throw new ApiError(0, { title: 'Not configured', detail: `config.json names no ${service} service` });
  return url.replace(/\/+$/, '');
}

function csrf() {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'fluke_csrf') return decodeURIComponent(v.join('='));
  }
  return null;
}

function decodeClaims(jwt) {
  try {
    const b64 = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')));
  } catch { return {}; }
}

function setToken(t) {
  session.token = t.access_token;
  session.expiresAt = Date.now() + (Number(t.expires_in) || 900) * 1000;
  session.tenantId = t.tenant_id;
  session.userId = t.user_id;
  const claims = decodeClaims(t.access_token);
  session.role = claims.role || null;
  clearTimeout(refreshTimer);
  const inMs = Math.max(5000, (Number(t.expires_in) || 900) * 1000 - 60000);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, inMs);
  emit();
}

export function clearSession() {
  clearTimeout(refreshTimer);
  const had = !!session.token;
  Object.assign(session, { token: null, expiresAt: 0, tenantId: null, userId: null, role: null });
  if (had) emit();
}

async function toError(r, service) {
  let problem = null;
  const ct = r.headers.get('content-type') || '';
  try {
    if (ct.includes('json')) problem = await r.json();
    else {
      const text = await r.text();
      problem = { title: r.statusText || `HTTP ${r.status}`, detail: text.slice(0, 300) || undefined };
    }
  } catch { problem = { title: r.statusText || `HTTP ${r.status}` }; }
  if (!problem || typeof problem !== 'object') problem = { title: `HTTP ${r.status}` };
  problem.status ??= r.status;
  const retry = r.headers.get('retry-after');
  if (retry) problem.detail = `${problem.detail ? `${problem.detail} ` : ''}(retry after ${retry} s)`;
  if (service) problem.service = service;
  return new ApiError(r.status, problem);
}

async function sessionCall(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = csrf();
  if (token) headers['X-CSRF-Token'] = token;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, { title: 'Network error', detail: 'project-manager cannot be reached' });
  }
  if (!r.ok) throw await toError(r, 'project-manager');
  return r.status === 204 ? null : r.json();
}

export async function login(email, password, tenantId) {
  const body = { email, password, session: 'cookie' };
  if (tenantId) body.tenant_id = tenantId;
  setToken(await sessionCall('POST', '/auth/login', body));
}

/** Renews the access token from the refresh cookie (optionally into another tenant). */
export function refresh(tenantId) {
  if (refreshing && !tenantId) return refreshing;
  const p = sessionCall('POST', '/auth/refresh', tenantId ? { tenant_id: tenantId } : {})
    .then((t) => { setToken(t); return current(); })
    .catch((e) => { if (e.status === 401 || e.status === 403) clearSession(); throw e; })
    .finally(() => { if (refreshing === p) refreshing = null; });
  refreshing = p;
  return p;
}

export async function signOut() {
  try { await sessionCall('DELETE', '/auth/refresh'); } finally { clearSession(); }
}

/** A usable access token, renewed when it is about to expire. */
export async function accessToken() {
  if (!session.token || session.expiresAt - Date.now() < 10000) await refresh();
  return session.token;
}

/**
 * Calls a service. opts: {method, query, body, headers, signal, full}. JSON bodies are sent as
 * JSON; a 401 renews the token and retries once. full → {data, status, headers}.
 */
export async function api(service, path, opts = {}) {
  const { method = 'GET', query, body, headers = {}, signal, full = false } = opts;
  const token = await accessToken();
  const url = new URL(base(service) + path);
  if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const h = { Accept: 'application/json, application/problem+json', Authorization: `Bearer ${token}`, ...headers };
  let payload;
  if (body !== undefined) {
    if (body instanceof Blob || typeof body === 'string') payload = body;
    else { payload = JSON.stringify(body); h['Content-Type'] ??= 'application/json'; }
  }
  let r;
  try {
    r = await fetch(url, { method, headers: h, body: payload, signal, credentials: 'omit', mode: 'cors', cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'Network error', detail: `${service} cannot be reached (${url.origin})` });
  }
  if (r.status === 401 && !opts.retried) {
    await refresh();
    return api(service, path, { ...opts, retried: true });
  }
  if (!r.ok && r.status !== 304) throw await toError(r, service);
  let data = null;
  if (r.status !== 204 && r.status !== 304) {
    const ct = r.headers.get('content-type') || '';
    data = ct.includes('json') ? await r.json() : await r.text();
  }
  return full ? { data, status: r.status, headers: r.headers } : data;
}

/** Every page of a cursor list (at most `max` items). */
export async function all(service, path, query = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(service, path, { query: { ...query, limit: 100, cursor } });
    items.push(...(page?.items ?? []));
    cursor = page?.next_cursor ?? null;
  } while (cursor && items.length < max);
  return items;
}

/** Tenants the signed-in user belongs to (empty when the endpoint is not there). */
export async function tenants() {
  try {
    const page = await api('pm', '/api/v1/me/tenants');
    return page?.items ?? [];
  } catch (e) {
    if (e.status === 404) return [];
    throw e;
  }
}
