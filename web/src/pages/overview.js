// overview.js — the seed layout: live alerts (those raised by imported history said apart),
// threats by OS and the most blocked domain on top; events per minute by OS and the top
// attacking IPs in the middle; then the top countries of source addresses and the events from
// addresses on a threat-intelligence list (both from the hub's enrichment); the latest events
// with OS, severity and event-type filters below. Refresh by hand or every 30 s; the alert
// count and its breakdown by status and severity follow GET /alerts/stream as alerts are
// raised and change, each count a link to the alerts page filtered to it.
import { api, sse } from '../api.js';
import { h, clear, fmtNum, fmtTime, spinner, errorBox, empty, SEVERITY, countryCode, countryName,
  tagChips } from '../dom.js';
import { lineChart, barList } from '../charts.js';
import { eventsTable, DEFAULT_COLUMNS } from '../table.js';
import * as range from '../range.js';

const OS_TYPES = ['LINUX', 'WINDOWS', 'PIHOLE', 'APP', 'NETWORK'];
const TABLE_ROWS = 50;
const INTEL = 'intel:*'; // every tag of a threat-intelligence list
const INTEL_ROWS = 5;
const ALERT_ROWS = 1000; // alerts read for the breakdown; more are counted, not broken down
const STATUSES = [['open', 'open'], ['acknowledged', 'acknowledged'], ['closed', 'closed']];

// Sources of attacks: failed logins (the service's LOGIN_FAIL and PAM's PAM_AUTH_FAIL, the
// only trace of a failure on a host whose sshd lines do not reach the hub), SSH probes
// (scanners) and block events other than DNS (whose source is the Pi-hole's own client, not
// an attacker).
export function attackTypes(types) {
  const t = new Set(['LOGIN_FAIL', 'PAM_AUTH_FAIL', 'SSH_PROBE']);
  for (const v of types) if (/BLOCK/.test(v) && !/^DNS/.test(v)) t.add(v);
  return [...t].sort();
}

export function mount(root, ctx) {
  const p = ctx.params;
  let state = range.fromParams(p);
  const filt = { os_type: p.get('os_type') || '', severity: p.get('severity') || '', event_type: p.get('event_type') || '' };
  let auto = p.get('auto') !== '0';
  let timer = null;
  let alive = true;
  let charts = [];
  let seq = 0;
  // The live alerts of the range: id -> {severity, status}, their number (GET /stats/summary,
  // then +1 for each new one the stream brings), whether the breakdown has them all.
  const alerts = { byId: new Map(), total: null, complete: true, backfill: 0, events: 0, range: null };
  const alertBox = h('article', { class: 'card metric', 'data-testid': 'metric-alerts' });

  const metrics = h('section', { class: 'grid three', 'aria-label': 'Key metrics' });
  const middle = h('section', { class: 'grid two', 'aria-label': 'Charts' });
  const enriched = h('section', { class: 'grid two even', 'aria-label': 'Countries and threat intelligence' });
  const tableBox = h('div', { 'data-testid': 'overview-table' });
  const updated = h('span', { class: 'muted', role: 'status', 'data-testid': 'updated' });

  const osSel = h('select', { 'aria-label': 'OS', 'data-testid': 'filter-os' }, h('option', { value: '' }, 'All OS'),
    OS_TYPES.map((o) => h('option', { value: o }, o)));
  const sevSel = h('select', { 'aria-label': 'Severity', 'data-testid': 'filter-severity' }, h('option', { value: '' }, 'All severities'),
    [1, 2, 3, 4, 5].map((s) => h('option', { value: String(s) }, `${SEVERITY[s]} (${s})`)));
  const typeSel = h('select', { 'aria-label': 'Event type', 'data-testid': 'filter-type' }, h('option', { value: '' }, 'All event types'));
  osSel.value = filt.os_type;
  sevSel.value = filt.severity;

  function saveQuery() {
    const q = new URLSearchParams();
    range.toParams(state, q);
    for (const [k, v] of Object.entries(filt)) if (v) q.set(k, v);
    if (!auto) q.set('auto', '0');
    ctx.setQuery(q);
  }

  const refreshBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'refresh' }, 'Refresh');
  const autoBox = h('input', { type: 'checkbox', id: 'auto-refresh', checked: auto, 'data-testid': 'auto-refresh' });
  const toolbar = h('div', { class: 'toolbar' },
    h('h1', {}, 'Overview'),
    range.picker(state, (s) => { state = s; saveQuery(); load(); }),
    refreshBtn,
    h('label', { class: 'check', for: 'auto-refresh' }, autoBox, ' Auto-refresh every 30 s'),
    updated);
  refreshBtn.addEventListener('click', () => load());
  autoBox.addEventListener('change', () => { auto = autoBox.checked; saveQuery(); schedule(); });

  for (const [sel, key] of [[osSel, 'os_type'], [sevSel, 'severity'], [typeSel, 'event_type']]) {
    sel.addEventListener('change', () => { filt[key] = sel.value; saveQuery(); loadTable(range.resolve(state)); });
  }

  clear(root, toolbar, metrics, middle, enriched,
    h('section', { class: 'card', 'aria-labelledby': 'latest-h' },
      h('div', { class: 'card-head' }, h('h2', { id: 'latest-h' }, 'Latest events'),
        h('span', { class: 'filters' }, osSel, sevSel, typeSel)),
      tableBox));

  function schedule() {
    clearInterval(timer);
    if (auto) timer = setInterval(() => load(), 30000);
  }

  function metricCard(title, testid, body) {
    return h('article', { class: 'card metric', 'data-testid': testid }, h('h2', {}, title), body);
  }

  // Alerts raised by imported history (events that arrived long after they happened) are not
  // live alerts: said apart, never added to the count, and a link to them on the alerts page.
  function backfillNote(n) {
    if (!n) return null;
    return h('p', { class: 'small more-note' },
      h('a', { href: ctx.href('alerts', new URLSearchParams({ view: 'history' })), 'data-testid': 'alerts-backfill',
        'data-value': String(n), title: 'Alerts raised by events that reached the hub long after they happened' },
      `+${fmtNum(n)} from imported history`));
  }

  // Where a count of the alert card leads: the alerts page filtered to it and to the range.
  function alertsHref(status, severity) {
    const q = new URLSearchParams({ status });
    if (severity) q.set('severity', String(severity));
    if (alerts.range?.from) q.set('from', alerts.range.from);
    if (alerts.range?.to && state.range === 'custom') q.set('to', alerts.range.to);
    return ctx.href('alerts', q);
  }

  function renderAlerts() {
    const title = h('h2', {}, `Alerts · ${range.label(state).replace('Last ', 'last ')}`);
    if (alerts.total === null) {
      clear(alertBox, title, h('p', {}, h('span', { class: 'big', 'data-value': '' }, '—'),
        h('span', { class: 'muted block' }, 'alerts are not available on this hub yet')));
      return;
    }
    const status = {};
    const sev = {};
    for (const a of alerts.byId.values()) {
      status[a.status] = (status[a.status] || 0) + 1;
      if (a.status === 'open') sev[a.severity] = (sev[a.severity] || 0) + 1;
    }
    const link = (href, n, label, testid, attrs = {}) => h('a', { href, 'data-testid': testid, 'data-value': String(n), ...attrs },
      h('strong', {}, fmtNum(n)), ` ${label}`);
    const byStatus = STATUSES.filter(([k]) => status[k]).map(([k, label]) =>
      h('li', {}, link(alertsHref(k), status[k], label, 'alerts-status', { 'data-status': k })));
    const bySev = [5, 4, 3, 2, 1].filter((n) => sev[n]).map((n) =>
      h('li', {}, link(alertsHref('open', n), sev[n], SEVERITY[n], 'alerts-severity', { 'data-severity': String(n), class: `sev-text-${n}` })));
    clear(alertBox, title,
      h('p', {}, h('a', { class: 'big', href: alertsHref('open'), 'data-testid': 'alerts-count', 'data-value': String(alerts.total),
        title: 'Open the alerts page' }, fmtNum(alerts.total)),
      h('span', { class: 'muted block' }, `live alerts raised, ${fmtNum(alerts.events)} events`)),
      byStatus.length ? h('ul', { class: 'inline-list small', 'aria-label': 'By status', 'data-testid': 'alerts-by-status' }, byStatus) : null,
      bySev.length ? h('ul', { class: 'inline-list small', 'aria-label': 'Open alerts by severity', 'data-testid': 'alerts-by-severity' }, bySev) : null,
      alerts.complete ? null : h('p', { class: 'muted small' }, `Broken down: the newest ${fmtNum(ALERT_ROWS)}.`),
      backfillNote(alerts.backfill));
  }

  // GET /alerts of the range for the breakdown (null when this hub has no alerts).
  async function loadAlerts(r) {
    try {
      return await api('alerts', { params: { ...r, backfill: false, limit: ALERT_ROWS } });
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  function setAlerts(sum, list, r) {
    alerts.byId.clear();
    alerts.range = r;
    alerts.backfill = sum.alerts_backfill;
    alerts.events = sum.events;
    alerts.total = sum.alerts === null || list === null ? null : sum.alerts;
    for (const a of list?.alerts || []) alerts.byId.set(String(a.id), { severity: a.severity, status: a.status || 'open' });
    alerts.complete = !list?.next_cursor;
    renderAlerts();
  }

  // An alert from the stream: a new one counts when the range reaches now.
  function streamed(a) {
    if (!a || typeof a !== 'object' || a.id === undefined || a.backfill === true || alerts.total === null) return;
    const id = String(a.id);
    const cur = alerts.byId.get(id);
    const entry = { severity: a.severity ?? cur?.severity, status: a.status || cur?.status || 'open' };
    if (cur) {
      alerts.byId.set(id, entry);
    } else {
      if (state.range === 'custom' && alerts.range?.to && Date.parse(alerts.range.to) < Date.now() - 60000) return;
      // An older alert firing again (one past the newest ALERT_ROWS): not raised in the range.
      if (alerts.range?.from && a.created_at && Date.parse(a.created_at) < Date.parse(alerts.range.from)) return;
      alerts.byId.set(id, entry);
      alerts.total += 1;
    }
    renderAlerts();
  }

  function renderMetrics(sum, list, r) {
    const threats = sum.threats_by_os.length
      ? h('ul', { class: 'kv' }, sum.threats_by_os.map((t) =>
        h('li', { 'data-os': t.os_type }, h('span', {}, t.os_type), h('strong', {}, fmtNum(t.count)))))
      : empty('No events of severity ≥ 3.');
    const dom = sum.top_blocked_domain;
    setAlerts(sum, list, r);
    clear(metrics,
      alertBox,
      metricCard('Threats by OS (severity ≥ 3)', 'metric-threats', threats),
      metricCard('Most blocked domain', 'metric-domain', dom
        ? h('p', {}, h('span', { class: 'big domain', 'data-value': dom.domain }, dom.domain),
          h('span', { class: 'muted block', 'data-count': String(dom.count) }, `${fmtNum(dom.count)} of ${fmtNum(sum.blocked)} blocked queries`))
        : empty('No blocked DNS queries.')));
  }

  function renderMiddle(ts, top) {
    charts.forEach((c) => c.destroy());
    charts = [];
    const chart = lineChart(ts, { label: `Events per ${ts.interval}` });
    charts.push(chart);
    const legend = h('p', { class: 'muted small' }, `Buckets of ${ts.interval}; ${fmtNum(ts.total)} events.`);
    clear(middle,
      h('article', { class: 'card', 'data-testid': 'chart-timeseries' }, h('h2', {}, `Events per ${ts.interval === '1m' ? 'minute' : ts.interval} by OS`),
        ts.total ? chart.el : empty('No events in this range.'), legend),
      h('article', { class: 'card', 'data-testid': 'chart-top-ips' }, h('h2', {}, 'Top attacking IPs'),
        h('p', { class: 'muted small' }, `Sources of ${top.event_types.join(', ')} events`),
        top.values.length ? barList(top.values, {
          onPick: (ip) => ctx.navigate('explorer', new URLSearchParams({ source_ip: ip, ...rangeParams() })),
        }) : empty('No attacks in this range.')));
  }

  // Top countries (GET /stats/top?field=country) and the events from intel-listed addresses
  // (GET /events?tag=intel:*&count=true: their number and the newest few).
  function renderEnriched(countries, intel) {
    const toExplorer = (extra) => ctx.navigate('explorer', new URLSearchParams({ ...rangeParams(), ...extra }));
    const n = intel.total;
    const more = intel.total_exact === false;
    const countText = more ? `more than ${fmtNum(n)}` : fmtNum(n);
    const intelBody = intel.events.length
      ? [h('p', {},
        h('button', { type: 'button', class: 'link big', 'data-testid': 'intel-count', 'data-value': String(n),
          title: 'Show them in the explorer', onclick: () => toExplorer({ tag: INTEL }) }, countText),
        h('span', { class: 'muted block' }, `event${n === 1 ? '' : 's'} whose source address is on a threat-intelligence list`)),
      h('h3', {}, 'Newest'),
      h('ul', { class: 'intel-list' }, intel.events.map((e) => h('li', { 'data-id': e.event_id },
        h('button', { type: 'button', class: 'link', title: 'Open it in the explorer',
          onclick: () => toExplorer({ tag: INTEL, event: e.event_id }) },
        h('time', { datetime: e.timestamp }, fmtTime(e.timestamp)), ' ', h('span', { class: 'ip' }, e.source_ip || '')),
        tagChips(e.tags, (t) => toExplorer({ tag: t }))))),
      n > intel.events.length
        ? h('p', { class: 'small' }, h('button', { type: 'button', class: 'link', 'data-testid': 'intel-all',
          onclick: () => toExplorer({ tag: INTEL }) }, `All ${countText} in the explorer`))
        : null]
      : empty('No intel-listed addresses seen in this range.');
    clear(enriched,
      h('article', { class: 'card', 'data-testid': 'top-countries' }, h('h2', {}, 'Top countries'),
        h('p', { class: 'muted small' }, 'Of the source addresses of every event (public addresses, by GeoIP)'),
        countries.values.length ? barList(countries.values, {
          label: (c) => countryCode(c),
          title: (c) => countryName(c) || null,
          onPick: (c) => toExplorer({ country: c }),
        }) : empty('No source address with a known country in this range.')),
      h('article', { class: 'card metric', 'data-testid': 'intel-events' },
        h('h2', {}, 'Events from intel-listed addresses'), intelBody));
  }

  async function loadEnriched(r) {
    try {
      const [countries, intel] = await Promise.all([
        api('stats/top', { params: { ...r, field: 'country', n: 10 } }),
        api('events', { params: { ...r, tag: INTEL, count: true, limit: INTEL_ROWS } }),
      ]);
      if (alive) renderEnriched(countries, intel);
    } catch (e) {
      if (alive) clear(enriched, h('article', { class: 'card' }, h('h2', {}, 'Countries and threat intelligence'), errorBox(e)));
    }
  }

  function rangeParams() {
    const q = new URLSearchParams();
    range.toParams(state, q);
    return Object.fromEntries(q);
  }

  async function loadTable(r) {
    const my = ++seq;
    try {
      const ev = await api('events', { params: { ...r, limit: TABLE_ROWS, ...filt } });
      if (!alive || my !== seq) return;
      clear(tableBox, ev.events.length
        ? eventsTable(ev.events, DEFAULT_COLUMNS, {
          onOpen: (e) => ctx.navigate('explorer', new URLSearchParams({ ...rangeParams(), event: e.event_id })),
          onValue: (f, v) => {
            if (f === 'os_type' || f === 'event_type' || f === 'severity') {
              filt[f] = v;
              ({ os_type: osSel, event_type: typeSel, severity: sevSel })[f].value = v;
              saveQuery();
              loadTable(range.resolve(state));
            } else {
              ctx.navigate('explorer', new URLSearchParams({ ...rangeParams(), [f]: v }));
            }
          },
        })
        : empty('No events match these filters.'),
      h('p', { class: 'muted small', 'data-testid': 'table-count' }, `${ev.events.length} latest events shown`));
    } catch (e) {
      if (alive && my === seq) clear(tableBox, errorBox(e));
    }
  }

  async function load() {
    const r = range.resolve(state);
    if (!metrics.childElementCount) metrics.append(spinner());
    try {
      const types = await api('event-types');
      const names = types.values.map((v) => v.value);
      const cur = typeSel.value || filt.event_type;
      clear(typeSel, h('option', { value: '' }, 'All event types'), names.sort().map((t) => h('option', { value: t }, t)));
      typeSel.value = cur;
      const attack = attackTypes(names);
      const enrichedDone = loadEnriched(r);
      const [sum, alertList, ts, top] = await Promise.all([
        api('stats/summary', { params: r }),
        loadAlerts(r),
        api('stats/timeseries', { params: { ...r, interval: '1m', by: 'os_type' } }),
        api('stats/top', { params: { ...r, field: 'source_ip', n: 10, event_type: attack } }),
      ]);
      if (!alive) return;
      top.event_types = attack;
      renderMetrics(sum, alertList, r);
      renderMiddle(ts, top);
      await Promise.all([loadTable(r), enrichedDone]);
      updated.textContent = `Updated ${fmtTime(new Date().toISOString())}`;
    } catch (e) {
      if (alive) clear(metrics, errorBox(e));
    }
  }

  // A keepalive every 5 s, as on the alerts page: the hub frees a gone page's stream slot soon.
  const stopStream = sse('alerts/stream', {
    params: { keepalive: 5 },
    onState: (st) => { alertBox.dataset.live = st; },
    onEvent: (m) => {
      let a;
      try { a = JSON.parse(m.data); } catch { return; }
      if (alive) streamed(a);
    },
  });

  load();
  schedule();
  return () => { alive = false; clearInterval(timer); stopStream(); charts.forEach((c) => c.destroy()); };
}
