// The live tail: log-streamer's WebSocket, resumed with since_id after any drop so nothing is missed.
import { accessToken, config, refresh } from './api.js';

/** Backoff before reconnect attempt n (0-based): 0.5 s doubling to 15 s, with jitter. */
export function backoff(n, rnd = Math.random) {
  const base = Math.min(15000, 500 * 2 ** n);
  return Math.round(base / 2 + rnd() * base / 2);
}

/** The tail URL: the filters, the resume point and the token (browsers cannot set headers). */
export function tailURL(base, filters, { sinceId, since, token }) {
  const u = new URL(base);
  for (const k of ['app_name', 'deployment_id', 'level', 'event_type', 'project_id']) if (filters[k]) u.searchParams.set(k, filters[k]);
  if (sinceId) u.searchParams.set('since_id', sinceId);
  else if (since) u.searchParams.set('since', since);
  u.searchParams.set('access_token', token);
  return u.toString();
}

export class Tail {
  /**
   * filters: {app_name, deployment_id, level, event_type, project_id}; opts.since / opts.sinceId
   * start the replay. handlers: onEntries(entries), onControl(msg), onState(state, detail).
   */
  constructor(filters, handlers, opts = {}) {
    this.filters = filters;
    this.h = handlers;
    this.lastId = opts.sinceId || null;
    this.since = opts.since || null;
    this.attempt = 0;
    this.stopped = true;
    this.ws = null;
    this.buffer = [];
    this.flushTimer = 0;
    this.retryTimer = 0;
    this.lastEntry = null;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.flush();
    if (this.ws) { const ws = this.ws; this.ws = null; try { ws.close(1000, 'bye'); } catch { /* closed */ } }
    this.state('stopped');
  }

  state(s, detail) { this.h.onState?.(s, detail); }

  async connect() {
    if (this.stopped) return;
    this.state(this.attempt ? 'reconnecting' : 'connecting');
    let token;
    try { token = await accessToken(); } catch (e) { this.state('error', 'not signed in'); return; }
    if (this.stopped) return;
    const base = config()?.log_stream_url;
    if (!base) { this.state('error', 'config.json has no log_stream_url'); return; }
    let ws;
    try {
      ws = new WebSocket(tailURL(base, this.filters, { sinceId: this.lastId, since: this.since, token }));
    } catch (e) { this.state('error', String(e.message || e)); return; }
    this.ws = ws;
    // with a resume point the server replays first and says {"type":"live"} when it is done
    ws.onopen = () => { if (this.ws === ws) this.state(this.lastId ? 'resuming' : this.since ? 'replaying' : 'live'); };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (!m || typeof m !== 'object') return;
      if (typeof m.type === 'string' && m['@type'] === undefined) {
        this.flush();
        if (m.type === 'live') this.state('live');
        this.h.onControl?.(m);
        return;
      }
      if (m.id) this.lastId = m.id;
      this.lastEntry = m;
      this.buffer.push(m);
      if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 50);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.flush();
      if (this.stopped) return;
      const expired = ev.code === 1008 && /token/i.test(ev.reason || '');
      const tooMany = ev.code === 1008 && !expired;
      const wait = tooMany ? 30000 : backoff(this.attempt++);
      this.state('reconnecting', `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''}); retrying in ${Math.round(wait / 1000)} s`);
      this.retryTimer = setTimeout(async () => {
        if (expired) { try { await refresh(); } catch { /* accessToken() reports */ } }
        this.connect();
      }, wait);
    };
  }

  flush() {
    clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    if (!this.buffer.length) return;
    const b = this.buffer;
    this.buffer = [];
    this.h.onEntries?.(b);
  }
}
