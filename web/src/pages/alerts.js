// alerts.js — open, acknowledged and closed live alerts, and apart from them the alerts raised
// by imported history (events that reached the hub long after they happened: backfill). Each
// alert says what happened in one line (its summary) under its severity and rule, how many
// events are behind it and how often the rule fired, what it is about (host, user, address as
// chips), with the events behind it, acknowledge/close buttons, and new alerts arriving live
// over GET /alerts/stream (SSE read with fetch, so the bearer token can be sent).
// ui/alerts?id=42 (a notification's link) opens that alert first, expanded with its events;
// ui/alerts?status=open&severity=5&from=... (the overview's counts) shows only those alerts.
import { api, sse } from '../api.js';
import { h, clear, fmtNum, fmtTime, spinner, errorBox, empty, sevBadge, SEVERITY } from '../dom.js';
import { eventsTable, FILTERABLE } from '../table.js';

const STATUS_TABS = [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['closed', 'Closed']];
const HISTORY = 'history'; // the imported-history view: backfill alerts of every status
const TABS = [...STATUS_TABS, [HISTORY, 'Imported history']];
const EVENTS_SHOWN = 20;

const ruleTitle = (a) => a.rule_title || a.title || a.rule_id || a.rule || `Alert ${a.id}`;
const headline = (a) => a.summary || ruleTitle(a);
const first = (a) => a.first_seen || a.first_ts || a.created_at;
const last = (a) => a.last_seen || a.last_ts || a.updated_at || a.created_at;
const plural = (n, one, many) => `${fmtNum(n)} ${n === 1 ? one : many}`;

// What the fields of a group key are called on a chip.
const GROUP_LABELS = { source_host: 'host', host: 'host', user: 'user', source_ip: 'address', src_ip: 'address' };

// "source_host=nas,user=svc-backup" -> [['source_host', 'nas'], ['user', 'svc-backup']] (a
// comma splits only before another "name=", so a value may hold commas).
export function groupFields(key) {
  if (!key) return [];
  return String(key).split(/,(?=[A-Za-z_][\w.]*=)/).map((p) => {
    const i = p.indexOf('=');
    return i < 0 ? ['', p] : [p.slice(0, i), p.slice(i + 1)];
  }).filter(([, v]) => v !== '');
}

// "30 events · fired 6 times" (how many events are behind the alert; how many times its rule
// fired for it, when more than once).
export function countsText(a) {
  const n = a.events_total ?? a.n_events ?? (Array.isArray(a.event_ids) ? a.event_ids.length : null);
  const parts = [];
  if (n !== null && n !== undefined) parts.push(plural(n, 'event', 'events'));
  if ((a.count ?? 1) > 1) parts.push(`fired ${fmtNum(a.count)} times`);
  return parts.join(' · ');
}

export function mount(root, ctx) {
  const p = ctx.params;
  const focusId = /^\d+$/.test(p.get('id') || '') ? p.get('id') : null;
  let view = p.get('view') === HISTORY ? HISTORY
    : STATUS_TABS.some(([k]) => k === p.get('status')) ? p.get('status') : 'open';
  // Filters from the overview's links: one severity, raised in [from, to].
  const filt = {
    severity: /^[1-5]$/.test(p.get('severity') || '') ? Number(p.get('severity')) : null,
    from: Number.isNaN(Date.parse(p.get('from') || '')) ? null : p.get('from'),
    to: Number.isNaN(Date.parse(p.get('to') || '')) ? null : p.get('to'),
  };
  let alive = true;
  let alerts = [];
  let cursor = null;
  let available = true;
  let focus = null; // the alert of ?id=, with its events
  let focusMissing = false;
  let scrolled = false;
  const fresh = new Set();
  const expanded = new Map(); // id -> GET /alerts/{id} (with its events), null while it loads, or an Error

  const liveState = h('span', { class: 'live muted', role: 'status', 'data-testid': 'live-state' }, 'Connecting…');
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const note = h('p', { class: 'notice', 'data-testid': 'history-note', hidden: true },
    'Imported history: alerts raised by events that reached the hub long after they happened ',
    '(by default more than an hour late: the hub\'s --backfill-after) — a backlog being imported, an ',
    'agent catching up after an outage. They are kept apart from the live alerts, are not counted with ',
    'them on the overview, and are not notified unless a notification channel asks for them.');
  const list = h('div', { 'data-testid': 'alerts-list' });
  const filterNote = h('p', { class: 'notice', 'data-testid': 'alerts-filter', hidden: true });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  more.addEventListener('click', () => load(true));

  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Alerts'), tabs, liveState),
    h('section', { class: 'card' }, note, filterNote, list, h('div', { class: 'more' }, more)));

  // Whether an alert belongs in the current view.
  const created = (a) => Date.parse(a.created_at || first(a));
  const filtered = (a) => (!filt.severity || Number(a.severity) === filt.severity)
    && (!filt.from || created(a) >= Date.parse(filt.from)) && (!filt.to || created(a) <= Date.parse(filt.to));
  const belongs = (a) => filtered(a)
    && (view === HISTORY ? a.backfill === true : a.backfill !== true && (a.status || 'open') === view);

  function saveQuery() {
    const q = new URLSearchParams(view === HISTORY ? { view } : { status: view });
    for (const [k, v] of Object.entries(filt)) if (v) q.set(k, String(v));
    ctx.setQuery(q);
  }

  function renderFilter() {
    const parts = [];
    if (filt.severity) parts.push(`${SEVERITY[filt.severity]} (${filt.severity}) only`);
    if (filt.from) parts.push(`raised since ${fmtTime(filt.from)}`);
    if (filt.to) parts.push(`until ${fmtTime(filt.to)}`);
    filterNote.hidden = !parts.length;
    if (!parts.length) return;
    const all = h('button', { type: 'button', class: 'link', 'data-testid': 'alerts-filter-clear' }, 'Show all');
    all.addEventListener('click', () => {
      filt.severity = filt.from = filt.to = null;
      saveQuery();
      renderFilter();
      load(false);
    });
    clear(filterNote, `Alerts ${parts.join(', ')}. `, all);
  }

  function renderTabs() {
    clear(tabs, TABS.map(([k, label]) => {
      const b = h('button', { type: 'button', role: 'tab', class: k === view ? 'tab active' : 'tab',
        'aria-selected': k === view ? 'true' : 'false', 'data-testid': `tab-${k}` }, label);
      b.addEventListener('click', () => {
        view = k;
        focus = null;
        focusMissing = false;
        saveQuery();
        renderTabs();
        load(false);
      });
      return b;
    }));
    note.hidden = view !== HISTORY;
  }

  async function act(a, what, btn) {
    btn.disabled = true;
    const input = btn.closest('article')?.querySelector('[data-testid=alert-comment]');
    const comment = input && input.value.trim();
    try {
      const r = await api(`alerts/${encodeURIComponent(a.id)}/${what}`,
        comment ? { method: 'POST', body: { comment } } : { method: 'POST' });
      if (comment && expanded.has(String(a.id))) refetch(String(a.id));
      const upd = r && typeof r === 'object' && r.id !== undefined ? r : { ...a, status: what === 'ack' ? 'acknowledged' : 'closed' };
      const id = String(a.id);
      if (focus && String(focus.id) === id) focus = { ...focus, ...upd };
      alerts = alerts.filter((x) => String(x.id) !== id || belongs(upd)).map((x) => (String(x.id) === id ? upd : x));
      render();
    } catch (e) {
      btn.disabled = false;
      btn.after(errorBox(e));
    }
  }

  // The events behind an alert (the first EVENTS_SHOWN), from GET /alerts/{id}.
  async function eventsOf(full) {
    const ids = (full.event_ids || full.events?.map((e) => e.event_id) || []).slice(0, EVENTS_SHOWN);
    const evs = full.events ? full.events.slice(0, EVENTS_SHOWN)
      : await Promise.all(ids.map((id) => api(`events/${encodeURIComponent(id)}`).catch(() => null)));
    return evs.filter(Boolean);
  }

  async function fetchFull(id) {
    const full = await api(`alerts/${encodeURIComponent(id)}`);
    full.shown = await eventsOf(full);
    full.rule = full.rule_id ? await api(`rules/${encodeURIComponent(full.rule_id)}`).catch(() => null) : null;
    return full;
  }

  // The explorer on the alert's events: its time range and its group's values.
  function explorerParams(a) {
    const p = { ...around(a) };
    for (const [k, v] of groupFields(a.group_key)) {
      const field = k === 'host' ? 'source_host' : k === 'src_ip' ? 'source_ip' : k;
      if (FILTERABLE.has(field)) p[field] = v;
    }
    return new URLSearchParams(p);
  }

  // What an analyst needs beside the events: the rule (description, YAML), the history of
  // the alert (who acknowledged or closed it, with their comments) and a comment box.
  function investigation(full) {
    const hist = Array.isArray(full.history) ? full.history : [];
    const r = full.rule;
    return h('div', { class: 'alert-investigation', 'data-testid': 'alert-investigation' },
      h('p', {}, h('a', { href: ctx.href('explorer', explorerParams(full)), 'data-testid': 'alert-explorer-link' },
        'Open these events in the explorer')),
      r ? h('div', { 'data-testid': 'alert-rule-detail' },
        h('p', { class: 'small' }, h('strong', {}, r.title || full.rule_title), r.description ? ` — ${r.description}` : ''),
        r.yaml ? h('details', {}, h('summary', {}, 'Rule YAML'), h('pre', { class: 'yaml-view' }, r.yaml)) : null) : null,
      h('div', { 'data-testid': 'alert-history' },
        h('h3', { class: 'small' }, 'History'),
        hist.length ? h('ul', { class: 'history' }, hist.map((x) => h('li', { 'data-action': x.action },
          `${fmtTime(x.time)} · ${x.actor} ${x.action === 'ack' ? 'acknowledged' : x.action === 'close' ? 'closed' : x.action}`,
          x.comment ? h('span', { class: 'comment' }, `: ${x.comment}`) : '')))
          : h('p', { class: 'muted small' }, 'Not acknowledged or closed yet.')),
      full.status !== 'closed' ? h('label', { class: 'small block' }, 'Comment for acknowledge or close ',
        h('input', { type: 'text', maxlength: '500', 'data-testid': 'alert-comment', placeholder: 'optional' })) : null);
  }

  function eventsBox(id) {
    const box = h('div', { class: 'alert-events', 'data-testid': 'alert-events', hidden: !expanded.has(id) });
    if (!expanded.has(id)) return box;
    const full = expanded.get(id);
    if (full === null) return clear(box, spinner());
    if (full instanceof Error) return clear(box, errorBox(full));
    const n = full.events_total ?? full.n_events ?? (full.event_ids || []).length;
    return clear(box, investigation(full), full.shown.length
      ? eventsTable(full.shown, ['timestamp', 'severity', 'event_type', 'source_host', 'source_ip', 'user', 'message'], {
        onOpen: (ev) => ctx.navigate('explorer', new URLSearchParams({ ...around(full), event: ev.event_id })),
      })
      : empty('The events behind this alert are no longer stored.'),
    h('p', { class: 'muted small' }, n > full.shown.length
      ? `The first ${fmtNum(full.shown.length)} of ${plural(n, 'event', 'events')} behind this alert`
      : `${plural(n, 'event', 'events')} behind this alert`));
  }

  async function toggleEvents(a) {
    const id = String(a.id);
    if (expanded.has(id)) { expanded.delete(id); render(); return; }
    expanded.set(id, null);
    render();
    let full;
    try { full = await fetchFull(id); } catch (e) { full = e; }
    if (!alive || !expanded.has(id)) return;
    expanded.set(id, full);
    render();
  }

  // An open alert's events again, after it changed (shown as they were meanwhile).
  async function refetch(id) {
    try {
      const full = await fetchFull(id);
      if (!alive || !expanded.get(id)) return;
      expanded.set(id, full);
      render();
    } catch { /* the events shown stay */ }
  }

  // The explorer's range around an alert: from a minute before its first event to a minute
  // after its last.
  function around(a) {
    const f = Date.parse(first(a)), l = Date.parse(last(a));
    if (Number.isNaN(f) || Number.isNaN(l)) return { range: '7d' };
    return { from: new Date(f - 60e3).toISOString(), to: new Date(l + 60e3).toISOString() };
  }

  // What the alert is about: a chip per field of its group (host, user, address...); a click
  // opens the explorer on that value around the alert.
  function groupChips(a) {
    const fields = groupFields(a.group_key);
    if (!fields.length) return null;
    return h('span', { class: 'chips', 'data-testid': 'alert-group' }, fields.map(([k, v]) => {
      const label = GROUP_LABELS[k] || k;
      const body = [label ? h('span', { class: 'chip-key' }, label) : null, ' ', v];
      const attrs = { class: 'chip', 'data-field': k, 'data-value': v };
      const field = k === 'host' ? 'source_host' : k === 'src_ip' ? 'source_ip' : k;
      return FILTERABLE.has(field)
        ? h('button', { type: 'button', ...attrs, title: `Events with ${k} = ${v} around this alert, in the explorer`,
          onclick: () => ctx.navigate('explorer', new URLSearchParams({ ...around(a), [field]: v })) }, body)
        : h('span', { ...attrs, title: `${k} = ${v}` }, body);
    }));
  }

  function row(a, focused) {
    const id = String(a.id);
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
    const evBtn = h('button', { type: 'button', class: 'btn small ghost', 'data-testid': 'alert-events-toggle',
      'aria-expanded': expanded.has(id) ? 'true' : 'false' }, expanded.has(id) ? 'Hide events' : 'Events');
    evBtn.addEventListener('click', () => toggleEvents(a));
    const rule = ruleTitle(a);
    const cls = ['alert', `sev-border-${a.severity}`];
    if (fresh.has(id)) cls.push('fresh');
    if (focused) cls.push('focus');
    return h('article', { class: cls.join(' '), 'data-id': id, 'data-testid': 'alert', 'data-severity': String(a.severity),
      'data-backfill': a.backfill ? 'true' : 'false', 'data-focus': focused ? 'true' : null },
    h('div', { class: 'alert-head' }, sevBadge(a.severity),
      rule !== headline(a) ? h('span', { class: 'muted small', 'data-testid': 'alert-rule' }, rule) : null,
      fresh.has(id) ? h('span', { class: 'tag' }, 'new') : null,
      h('span', { class: 'muted push' }, a.status || view)),
    h('h2', { class: 'alert-summary', 'data-testid': 'alert-summary' }, headline(a)),
    h('p', { class: 'alert-meta muted small' },
      h('span', { 'data-testid': 'alert-counts' }, countsText(a)),
      ` · first ${fmtTime(first(a))} · last ${fmtTime(last(a))}`,
      a.acknowledged_by ? ` · acknowledged by ${a.acknowledged_by}` : '',
      a.closed_by ? ` · closed by ${a.closed_by}` : ''),
    groupChips(a),
    h('div', { class: 'alert-actions' }, actions, evBtn), eventsBox(id));
  }

  function render() {
    if (!available) {
      clear(list, empty('Alerts are not available on this hub yet: detection is not running (GET /alerts answered 404).'));
      more.hidden = true;
      return;
    }
    const shown = focus ? [focus, ...alerts.filter((x) => String(x.id) !== String(focus.id))] : alerts;
    const none = view === HISTORY ? 'No alerts from imported history.' : `No ${view} alerts.`;
    clear(list,
      focusMissing ? h('p', { class: 'error', role: 'alert', 'data-testid': 'focus-missing' }, `There is no alert ${focusId}.`) : null,
      shown.length ? shown.map((a) => row(a, focus && String(a.id) === String(focus.id))) : empty(none));
    more.hidden = !cursor;
    if (focus && !scrolled) {
      scrolled = true;
      list.querySelector('[data-focus]')?.scrollIntoView({ block: 'start' });
    }
  }

  async function load(append) {
    if (!append) clear(list, spinner());
    try {
      const params = view === HISTORY ? { backfill: true, limit: 100 } : { status: view, backfill: false, limit: 100 };
      if (filt.severity) params.severity = filt.severity;
      if (filt.from) params.from = filt.from;
      if (filt.to) params.to = filt.to;
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

  // ?id=42: that alert first, in the view it belongs to, expanded with its events.
  async function start() {
    if (focusId) {
      clear(list, spinner());
      try {
        const full = await fetchFull(focusId);
        if (!alive) return;
        focus = full;
        view = full.backfill === true ? HISTORY : (full.status || 'open');
        expanded.set(String(full.id), full);
      } catch (e) {
        if (!alive) return;
        if (e.status === 404) focusMissing = true;
        else { clear(list, errorBox(e)); return; }
      }
    }
    renderTabs();
    renderFilter();
    load(false);
  }

  // A keepalive every 5 s (the hub's default is 30 s): the hub notices a stream whose page
  // is gone at a write, and holds at most 4 streams per user, so a user going back and forth
  // between pages gets the slots of the old pages back within seconds.
  const stop = sse('alerts/stream', {
    params: { keepalive: 5 },
    onState: (s) => {
      liveState.textContent = s === 'live' ? 'Live' : s === 'reconnecting' ? 'Reconnecting…' : 'Live updates unavailable';
      liveState.dataset.state = s;
    },
    onEvent: (m) => {
      let a;
      try { a = JSON.parse(m.data); } catch { return; }
      if (!a || typeof a !== 'object' || a.id === undefined) return;
      const id = String(a.id);
      if (!a.status) a.status = 'open';
      if (focus && String(focus.id) === id) focus = { ...focus, ...a };
      const at = alerts.findIndex((x) => String(x.id) === id);
      if (!belongs(a)) {
        if (at >= 0) alerts.splice(at, 1);
      } else if (at >= 0) {
        alerts[at] = a; // a change of one already shown (fired again, acknowledged...)
      } else {
        fresh.add(id);
        alerts.unshift(a);
      }
      if (alive) render();
      const shown = expanded.get(id);
      if (shown && !(shown instanceof Error) && shown.version !== a.version) refetch(id); // more events behind it
    },
  });

  start();
  return () => { alive = false; stop(); };
}
