// alerts.js — open, acknowledged and closed alerts with their severity (colour and name), the
// events behind each, acknowledge/close buttons, and new alerts arriving live over
// GET /alerts/stream (SSE read with fetch, so the bearer token can be sent).
import { api, sse } from '../api.js';
import { h, clear, fmtNum, fmtTime, spinner, errorBox, empty, sevBadge } from '../dom.js';
import { eventsTable } from '../table.js';

const TABS = [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['closed', 'Closed']];
const EVENTS_SHOWN = 20;

const title = (a) => a.rule_title || a.title || a.rule_id || a.rule || `Alert ${a.id}`;
const first = (a) => a.first_seen || a.first_ts || a.created_at;
const last = (a) => a.last_seen || a.last_ts || a.updated_at || a.created_at;

export function mount(root, ctx) {
  let status = TABS.some(([k]) => k === ctx.params.get('status')) ? ctx.params.get('status') : 'open';
  let alive = true;
  let alerts = [];
  let cursor = null;
  let available = true;
  const fresh = new Set();

  const liveState = h('span', { class: 'live muted', role: 'status', 'data-testid': 'live-state' }, 'Connecting…');
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const list = h('div', { 'data-testid': 'alerts-list' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  more.addEventListener('click', () => load(true));

  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Alerts'), tabs, liveState),
    h('section', { class: 'card' }, list, h('div', { class: 'more' }, more)));

  function renderTabs() {
    clear(tabs, TABS.map(([k, label]) => {
      const b = h('button', { type: 'button', role: 'tab', class: k === status ? 'tab active' : 'tab',
        'aria-selected': k === status ? 'true' : 'false', 'data-testid': `tab-${k}` }, label);
      b.addEventListener('click', () => {
        status = k;
        ctx.setQuery(new URLSearchParams({ status }));
        renderTabs();
        load(false);
      });
      return b;
    }));
  }

  async function act(a, what, btn) {
    btn.disabled = true;
    try {
      const r = await api(`alerts/${encodeURIComponent(a.id)}/${what}`, { method: 'POST' });
      const upd = r && typeof r === 'object' && r.id !== undefined ? r : { ...a, status: what === 'ack' ? 'acknowledged' : 'closed' };
      alerts = alerts.filter((x) => String(x.id) !== String(a.id) || upd.status === status);
      alerts = alerts.map((x) => (String(x.id) === String(a.id) ? upd : x));
      render();
    } catch (e) {
      btn.disabled = false;
      btn.after(errorBox(e));
    }
  }

  async function showEvents(a, box) {
    if (!box.hidden) { box.hidden = true; return; }
    box.hidden = false;
    clear(box, spinner());
    try {
      const full = await api(`alerts/${encodeURIComponent(a.id)}`);
      const ids = (full.event_ids || full.events?.map((e) => e.event_id) || []).slice(0, EVENTS_SHOWN);
      const evs = full.events && full.events.length ? full.events.slice(0, EVENTS_SHOWN)
        : await Promise.all(ids.map((id) => api(`events/${encodeURIComponent(id)}`).catch(() => null)));
      const got = evs.filter(Boolean);
      clear(box, got.length
        ? eventsTable(got, ['timestamp', 'severity', 'event_type', 'source_host', 'source_ip', 'user', 'message'], {
          onOpen: (ev) => ctx.navigate('explorer', new URLSearchParams({ range: '7d', event: ev.event_id })),
        })
        : empty('The events behind this alert are no longer stored.'),
      h('p', { class: 'muted small' }, `${fmtNum(full.events_total ?? full.n_events ?? ids.length)} events behind this alert`));
    } catch (e) {
      clear(box, errorBox(e));
    }
  }

  function row(a) {
    const box = h('div', { class: 'alert-events', hidden: true });
    const actions = [];
    if (a.status !== 'closed') {
      if (a.status !== 'acknowledged') {
        const ack = h('button', { type: 'button', class: 'btn small', 'data-testid': 'ack' }, 'Acknowledge');
        ack.addEventListener('click', () => act(a, 'ack', ack));
        actions.push(ack);
      }
      const close = h('button', { type: 'button', class: 'btn small', 'data-testid': 'close' }, 'Close');
      close.addEventListener('click', () => act(a, 'close', close));
      actions.push(close);
    }
    const evBtn = h('button', { type: 'button', class: 'btn small ghost' }, 'Events');
    evBtn.addEventListener('click', () => showEvents(a, box));
    return h('article', { class: `alert sev-border-${a.severity}${fresh.has(String(a.id)) ? ' fresh' : ''}`,
      'data-id': String(a.id), 'data-testid': 'alert' },
    h('div', { class: 'alert-head' }, sevBadge(a.severity), h('strong', {}, title(a)),
      fresh.has(String(a.id)) ? h('span', { class: 'tag' }, 'new') : null,
      h('span', { class: 'muted' }, a.status || status)),
    h('p', { class: 'muted small' },
      a.group_key ? `${a.group_key} · ` : '', `${fmtNum(a.count ?? 1)} hit${a.count === 1 ? '' : 's'} · `,
      `first ${fmtTime(first(a))} · last ${fmtTime(last(a))}`,
      a.acknowledged_by ? ` · acknowledged by ${a.acknowledged_by}` : '',
      a.closed_by ? ` · closed by ${a.closed_by}` : ''),
    h('div', { class: 'alert-actions' }, actions, evBtn), box);
  }

  function render() {
    if (!available) {
      clear(list, empty('Alerts are not available on this hub yet: detection is not running (GET /alerts answered 404).'));
      more.hidden = true;
      return;
    }
    clear(list, alerts.length ? alerts.map(row) : empty(`No ${status} alerts.`));
    more.hidden = !cursor;
  }

  async function load(append) {
    if (!append) clear(list, spinner());
    try {
      const params = { status, limit: 100 };
      if (append && cursor) params.cursor = cursor;
      const r = await api('alerts', { params });
      if (!alive) return;
      const got = r.alerts || [];
      alerts = append ? alerts.concat(got) : got;
      cursor = r.next_cursor || null;
      available = true;
      render();
    } catch (e) {
      if (!alive) return;
      if (e.status === 404) { available = false; render(); return; }
      clear(list, errorBox(e));
    }
  }

  const stop = sse('alerts/stream', {
    onState: (s) => {
      liveState.textContent = s === 'live' ? 'Live' : s === 'reconnecting' ? 'Reconnecting…' : 'Live updates unavailable';
      liveState.dataset.state = s;
    },
    onEvent: (m) => {
      let a;
      try { a = JSON.parse(m.data); } catch { return; }
      if (!a || typeof a !== 'object' || a.id === undefined) return;
      const id = String(a.id);
      const st = a.status || 'open';
      alerts = alerts.filter((x) => String(x.id) !== id);
      if (st === status) {
        fresh.add(id);
        alerts.unshift(a);
      }
      if (alive) render();
    },
  });

  renderTabs();
  load(false);
  return () => { alive = false; stop(); };
}
