// explorer.js — search every stored event: each filter of GET /events, free text, a time
// range, how many events match (count=true with the first page), "load more" with the cursor,
// chosen columns, and a drawer with the whole event (normalized fields, where the source
// address is — country, city, autonomous system — with its reverse name and tags, data and
// the raw line, copyable). The URL holds the query. "Live" tails GET /events/stream with the
// same filters: new events go on top of the table (at most LIVE_MAX rows), and while paused
// they wait, counted, until resumed.
import { api, sse } from '../api.js';
import { h, clear, fmtNum, fmtTime, pretty, copyButton, spinner, errorBox, empty, sevBadge, countryCode, asnLabel,
  tagChips } from '../dom.js';
import { eventsTable, COLUMNS, DEFAULT_COLUMNS, FILTERABLE } from '../table.js';
import * as range from '../range.js';

const FILTERS = [
  ['q', 'Text', 'text in message, raw line or path'],
  ['event_type', 'Event type', 'LOGIN_FAIL, DNS_BLOCK'],
  ['os_type', 'OS', 'LINUX, WINDOWS'],
  ['severity', 'Severity', '3,4,5'],
  ['source_ip', 'Source IP', '203.0.113.0/24'],
  ['country', 'Country', 'GB,SE'],
  ['asn', 'ASN', 'AS29518'],
  ['tag', 'Tag', 'intel:*'],
  ['user', 'User', 'root'],
  ['source_host', 'Host', 'web1'],
  ['app', 'App', ''],
  ['level', 'Level', 'ERROR'],
  ['http_status', 'HTTP status', '500'],
  ['request_id', 'Request id', ''],
];
const PAGE = 200;
const LIVE_MAX = 500; // rows kept while live; older ones fall off the bottom
const FIELD_ORDER = ['event_id', 'timestamp', 'received_at', 'severity', 'level', 'os_type', 'event_type',
  'source_host', 'source_ip', 'rdns', 'geo', 'tags', 'user', 'app', 'message', 'request_id', 'user_agent', 'http_method',
  'http_path', 'http_status', 'latency_ms', 'error_type', 'source', 'source_file', 'source_offset',
  'truncated'];

export function mount(root, ctx) {
  const p = ctx.params;
  let state = range.fromParams(p, '7d', { allTime: true });
  const values = Object.fromEntries(FILTERS.map(([k]) => [k, p.get(k) || '']));
  let columns = (p.get('cols') || localStorage.getItem('minisiem.cols') || DEFAULT_COLUMNS.join(','))
    .split(',').filter((c) => COLUMNS.some(([k]) => k === c));
  if (!columns.length) columns = [...DEFAULT_COLUMNS];
  let events = [];
  let cursor = null;
  let alive = true;
  let seq = 0;
  let openId = p.get('event') || '';
  let live = p.get('live') === '1';
  let paused = false;
  let pending = []; // events that came while paused, newest first
  let skipped = 0; // events the hub could not send (the stream fell behind)
  let stopLive = null;
  let drawQueued = false;

  const inputs = {};
  const form = h('form', { class: 'filters-form card', 'data-testid': 'explorer-form', role: 'search' },
    FILTERS.map(([k, label, ph]) => {
      inputs[k] = h('input', { id: `f-${k}`, name: k, value: values[k], placeholder: ph, 'data-testid': `f-${k}`,
        type: k === 'q' ? 'search' : 'text' });
      return h('div', { class: k === 'q' ? 'field wide' : 'field' }, h('label', { for: `f-${k}` }, label), inputs[k]);
    }),
    h('div', { class: 'field actions' },
      h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'search' }, 'Search'),
      h('button', { type: 'button', class: 'btn', onclick: () => { for (const k in inputs) inputs[k].value = ''; submit(); } }, 'Clear')));
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });

  const colBox = h('details', { class: 'columns' }, h('summary', {}, 'Columns'),
    h('div', { class: 'colgrid' }, COLUMNS.map(([k, label]) => {
      const cb = h('input', { type: 'checkbox', id: `col-${k}`, checked: columns.includes(k), 'data-col': k });
      cb.addEventListener('change', () => {
        columns = COLUMNS.map(([c]) => c).filter((c) => c === k ? cb.checked : columns.includes(c));
        localStorage.setItem('minisiem.cols', columns.join(','));
        saveQuery(false);
        renderTable();
      });
      return h('label', { class: 'check', for: `col-${k}` }, cb, ` ${label}`);
    })));

  const results = h('div', { 'data-testid': 'results' });
  const total = h('h2', { 'data-testid': 'result-total' }, 'Events');
  const count = h('span', { class: 'muted', role: 'status', 'data-testid': 'result-count' });
  const more = h('button', { type: 'button', class: 'btn', 'data-testid': 'load-more', hidden: true }, 'Load more');
  more.addEventListener('click', () => fetchPage(true));
  const liveBtn = h('button', { type: 'button', class: 'btn small', 'data-testid': 'live-toggle',
    'aria-pressed': String(live), title: 'Show new events as they arrive' }, 'Live');
  const pauseBtn = h('button', { type: 'button', class: 'btn small', 'data-testid': 'live-pause', hidden: true }, 'Pause');
  const liveState = h('span', { class: 'live-state muted', role: 'status', 'data-testid': 'live-state' });
  const liveBox = h('span', { class: 'live' }, liveBtn, pauseBtn, liveState);
  liveBtn.addEventListener('click', () => { live = !live; saveQuery(false); liveChanged(); });
  pauseBtn.addEventListener('click', () => { if (paused) resume(); else { paused = true; showLive(); } });
  const drawer = h('aside', { class: 'drawer', 'aria-label': 'Event details', 'data-testid': 'drawer', hidden: true });

  clear(root,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Explorer'),
      range.picker(state, (s) => { state = s; submit(); }, { allTime: true, jumpTo: true }), colBox),
    form, h('section', { class: 'card' }, h('div', { class: 'card-head' }, total, count, liveBox), results,
      h('div', { class: 'more' }, more)),
    drawer);

  function saveQuery(push) {
    const q = new URLSearchParams();
    range.toParams(state, q);
    for (const [k] of FILTERS) if (values[k]) q.set(k, values[k]);
    if (columns.join(',') !== DEFAULT_COLUMNS.join(',')) q.set('cols', columns.join(','));
    if (openId) q.set('event', openId);
    if (live) q.set('live', '1');
    ctx.setQuery(q, { push });
  }

  function submit() {
    for (const [k] of FILTERS) values[k] = inputs[k].value.trim();
    saveQuery(true);
    fetchPage(false);
    if (live) startLive(); // the stream follows the new filters
  }

  // ---- live tail ----

  function showLive() {
    liveBtn.setAttribute('aria-pressed', String(live));
    liveBtn.classList.toggle('primary', live);
    pauseBtn.hidden = !live;
    pauseBtn.textContent = paused ? `Resume${pending.length ? ` (${fmtNum(pending.length)} new)` : ''}` : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    if (!live) { liveState.textContent = ''; delete liveState.dataset.state; return; }
    const st = liveState.dataset.state;
    const parts = [paused ? `Paused: ${fmtNum(pending.length)} new event${pending.length === 1 ? '' : 's'}`
      : st === 'live' ? 'Live' : st === 'reconnecting' ? 'Reconnecting…' : st === 'unavailable' ? 'Live tail unavailable' : 'Connecting…'];
    if (skipped) parts.push(`${fmtNum(skipped)} skipped (too many at once)`);
    liveState.textContent = parts.join(' · ');
    liveState.dataset.pending = String(pending.length);
  }

  function drawSoon() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; if (alive) renderTable(); });
  }

  function addLive(evs) {
    events = evs.concat(events).slice(0, LIVE_MAX);
    if (counted && evs.length) showTotal({ ...counted, total: counted.total + evs.length });
    drawSoon();
  }

  function resume() {
    paused = false;
    addLive(pending);
    pending = [];
    showLive();
  }

  function startLive() {
    if (stopLive) stopLive();
    pending = [];
    paused = false;
    skipped = 0;
    const params = { keepalive: 5 };
    for (const [k] of FILTERS) if (values[k]) params[k] = values[k];
    liveState.dataset.state = 'connecting';
    stopLive = sse('events/stream', {
      params,
      onState: (s) => { liveState.dataset.state = s; showLive(); },
      onEvent: (m) => {
        let d;
        try { d = JSON.parse(m.data); } catch { return; }
        if (m.event === 'dropped') { skipped += Number(d.dropped) || 0; showLive(); return; }
        if (m.event !== 'event' || !d || !d.event_id) return;
        if (events.some((e) => e.event_id === d.event_id)) return; // already on the page
        if (paused) pending = [d].concat(pending).slice(0, LIVE_MAX);
        else addLive([d]);
        showLive();
      },
    });
    showLive();
  }

  function liveChanged() {
    if (live) startLive();
    else {
      if (stopLive) stopLive();
      stopLive = null;
      if (paused) resume();
      paused = false;
    }
    showLive();
  }

  function addFilter(field, value) {
    const key = field === 'severity' ? 'severity' : field;
    if (!(key in inputs)) return;
    inputs[key].value = value;
    submit();
  }

  function renderTable() {
    clear(results, events.length
      ? eventsTable(events, columns, { onOpen: (ev) => openEvent(ev.event_id), onValue: addFilter })
      : empty('No events match this search.'));
    count.textContent = `${fmtNum(events.length)} shown${cursor ? ', more available' : ''}`;
    count.dataset.shown = String(events.length);
    more.hidden = !cursor;
  }

  // How many events the search matches: the hub counts exactly up to a bound (100,000), past
  // which it says only that there are more.
  let counted = null; // the last count shown: live events add to it
  function showTotal(r) {
    counted = r && typeof r.total === 'number' ? { total: r.total, total_exact: r.total_exact } : null;
    if (!r || typeof r.total !== 'number') {
      total.textContent = 'Events';
    } else if (r.total_exact) {
      total.textContent = `${fmtNum(r.total)} event${r.total === 1 ? '' : 's'}`;
    } else {
      total.textContent = `more than ${fmtNum(r.total)} events`;
    }
  }

  async function fetchPage(append) {
    const my = ++seq;
    const params = { ...range.resolve(state), limit: PAGE };
    for (const [k] of FILTERS) if (values[k]) params[k] = values[k];
    if (append && cursor) params.cursor = cursor;
    if (!append) {
      params.count = true; // of every page: asked with the first one only
      clear(results, spinner());
      showTotal(null);
    }
    more.disabled = true;
    try {
      const r = await api('events', { params });
      if (!alive || my !== seq) return;
      events = append ? events.concat(r.events) : r.events;
      cursor = r.next_cursor;
      if (!append) showTotal(r);
      renderTable();
    } catch (e) {
      if (alive && my === seq) clear(results, errorBox(e));
    } finally {
      more.disabled = false;
    }
  }

  // A value of the drawer that filters on field = value when clicked.
  function filterLink(field, value, content, title) {
    return h('button', { type: 'button', class: 'link value', title: title || `Filter on ${field} = ${value}`,
      'data-filter': field, onclick: () => { closeEvent(); addFilter(field, String(value)); } }, content);
  }

  // geo: the country (name and code, a filter), city, autonomous system (a filter), lat/lon.
  function geoValue(g) {
    const rows = [];
    if (g.country) {
      rows.push(['country', filterLink('country', g.country,
        [g.country_name ? `${g.country_name} ` : '', countryCode(g.country)])]);
    }
    if (g.city) rows.push(['city', g.city]);
    if (g.asn !== undefined && g.asn !== null) rows.push(['asn', filterLink('asn', `AS${g.asn}`, asnLabel(g))]);
    if (typeof g.lat === 'number' && typeof g.lon === 'number') rows.push(['location', `${g.lat}, ${g.lon}`]);
    if (!rows.length) return h('code', {}, JSON.stringify(g));
    return h('dl', { class: 'geo' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-geo': k }, v)]));
  }

  function fieldValue(k, v) {
    if (k === 'severity') return sevBadge(v);
    if (k === 'geo' && v && typeof v === 'object') return geoValue(v);
    if (k === 'tags' && Array.isArray(v)) return tagChips(v, (t) => { closeEvent(); addFilter('tag', t); });
    if (k === 'timestamp' || k === 'received_at') return h('span', {}, h('time', { datetime: v }, fmtTime(v)), ` (${v})`);
    if (typeof v === 'object') return h('code', {}, JSON.stringify(v));
    if (FILTERABLE.has(k) && k in inputs) return filterLink(k, v, String(v));
    return String(v);
  }

  function closeEvent() {
    drawer.hidden = true;
    openId = '';
    saveQuery(false);
  }

  async function openEvent(id) {
    openId = id;
    saveQuery(false);
    drawer.hidden = false;
    clear(drawer, spinner());
    try {
      const ev = await api(`events/${encodeURIComponent(id)}`);
      if (!alive || openId !== id) return;
      const keys = FIELD_ORDER.filter((k) => k in ev).concat(Object.keys(ev).filter((k) =>
        !FIELD_ORDER.includes(k) && k !== 'data' && k !== 'raw_message'));
      const close = h('button', { type: 'button', class: 'btn small', 'data-testid': 'drawer-close' }, 'Close');
      close.addEventListener('click', closeEvent);
      const dataText = ev.data === undefined ? '' : pretty(ev.data);
      const rawText = ev.raw_message || '';
      clear(drawer,
        h('div', { class: 'card-head' }, h('h2', {}, ev.event_type || 'Event'), close),
        h('dl', { class: 'fields' }, keys.map((k) => [h('dt', {}, k), h('dd', { 'data-field': k }, fieldValue(k, ev[k]))])),
        h('div', { class: 'card-head' }, h('h3', {}, 'data'), copyButton(() => dataText, 'Copy data')),
        dataText ? h('pre', { class: 'code', 'data-testid': 'event-data' }, dataText) : empty('No data.'),
        h('div', { class: 'card-head' }, h('h3', {}, 'raw_message'), copyButton(() => rawText, 'Copy raw')),
        rawText ? h('pre', { class: 'code', 'data-testid': 'event-raw' }, pretty(rawText)) : empty('No raw line.'),
        h('div', { class: 'card-head' }, h('h3', {}, 'Whole event (JSON)'), copyButton(() => JSON.stringify(ev, null, 2), 'Copy JSON')),
        h('pre', { class: 'code', 'data-testid': 'event-json' }, JSON.stringify(ev, null, 2)));
      close.focus();
    } catch (e) {
      if (alive) clear(drawer, errorBox(e), h('button', { type: 'button', class: 'btn small', onclick: closeEvent }, 'Close'));
    }
  }

  const onKey = (e) => { if (e.key === 'Escape' && !drawer.hidden) closeEvent(); };
  document.addEventListener('keydown', onKey);
  fetchPage(false);
  if (openId) openEvent(openId);
  if (live) liveChanged();
  return () => {
    alive = false;
    if (stopLive) stopLive();
    document.removeEventListener('keydown', onKey);
  };
}
