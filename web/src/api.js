// api.js — the hub's API from the page: every URL is relative to <base href>, so the app
// works under any SIEM_ROOT_PATH; the token lives in sessionStorage for the tab's session;
// a 401 sends the user back to the login page with a message.

const TOKEN = 'minisiem.token';
const USER = 'minisiem.user';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail ? `${error}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : error);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
export function token() { return sessionStorage.getItem(TOKEN); }
export function user() { return sessionStorage.getItem(USER) || ''; }
export function setSession(t, name) {
  sessionStorage.setItem(TOKEN, t);
  sessionStorage.setItem(USER, name || 'admin');
}
export function clearSession() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(USER);
}

export function url(path, params) {
  const u = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) { if (v.length) u.searchParams.set(k, v.join(',')); }
    else u.searchParams.set(k, String(v));
  }
  return u;
}

// bearer: send this token rather than the session's (logout, once the session is gone). A 401
// ends the session only when it answers the session's current token: the answer to a request
// sent before a logout or a new login is not about the session there is now.
export async function api(path, { method = 'GET', params, body, type, signal, auth = true, bearer } = {}) {
  const headers = {};
  const sent = bearer || (auth ? token() : null);
  if (sent) headers.Authorization = `Bearer ${sent}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = type || 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(url(path, params), { method, headers, body: payload, signal, cache: 'no-store' });
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (res.status === 401 && auth && !bearer && sent && sent === token()) {
    clearSession();
    onUnauthorized('Your session has expired or is no longer valid. Please log in again.');
    throw new ApiError(401, 'unauthorized', null);
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data : { error: res.statusText || `HTTP ${res.status}` };
    throw new ApiError(res.status, e.error || `HTTP ${res.status}`, e.detail);
  }
  return data;
}

// Server-Sent Events over fetch, since EventSource cannot send the Authorization header.
// Calls onEvent({event, data, id}) for each message; reconnects (bounded backoff) until
// stop() is called. onState('live' | 'reconnecting' | 'unavailable').
export function sse(path, { onEvent, onState = () => {}, params } = {}) {
  let stopped = false;
  let ctrl = null;
  let lastId = null;
  let attempt = 0;
  let timer = null;

  async function run() {
    if (stopped) return;
    ctrl = new AbortController();
    const sent = token();
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${sent}` };
    if (lastId) headers['Last-Event-ID'] = lastId;
    try {
      const res = await fetch(url(path, params), { headers, signal: ctrl.signal, cache: 'no-store' });
      if (res.status === 401) {
        if (stopped || sent !== token()) return; // a stream of a session that has ended
        clearSession();
        onUnauthorized('Your session has expired or is no longer valid. Please log in again.');
        return;
      }
      if (res.status === 404 || res.status === 405) { onState('unavailable'); return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState('live');
      attempt = 0;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let msg = { event: 'message', data: [], id: null };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
          if (line === '') {
            if (msg.data.length) {
              if (msg.id) lastId = msg.id;
              onEvent({ event: msg.event, data: msg.data.join('\n'), id: msg.id });
            }
            msg = { event: 'message', data: [], id: null };
            continue;
          }
          if (line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') msg.data.push(val);
          else if (field === 'event') msg.event = val;
          else if (field === 'id') msg.id = val;
        }
      }
    } catch (e) {
      if (stopped) return;
    }
    if (stopped) return;
    onState('reconnecting');
    attempt = Math.min(attempt + 1, 6);
    timer = setTimeout(run, 500 * 2 ** attempt);
  }
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ctrl) ctrl.abort();
  };
}
