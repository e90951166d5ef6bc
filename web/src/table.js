// table.js — the events table shared by the overview, the explorer and dashboard widgets:
// chosen columns, severity as a labelled badge, and values (IP, user, host, event type...)
// that can be clicked to filter on them; the source's country as a flag and its code, and the
// event's tags as chips.
import { h, sevBadge, fmtTime, countryCode, tagChips } from './dom.js';

export const COLUMNS = [
  ['timestamp', 'Time'],
  ['severity', 'Severity'],
  ['os_type', 'OS'],
  ['event_type', 'Event type'],
  ['source_host', 'Host'],
  ['source_ip', 'Source IP'],
  ['country', 'Country'],
  ['tags', 'Tags'],
  ['user', 'User'],
  ['app', 'App'],
  ['level', 'Level'],
  ['message', 'Message'],
  ['http_status', 'HTTP status'],
  ['http_path', 'HTTP path'],
  ['request_id', 'Request id'],
];
export const DEFAULT_COLUMNS = ['timestamp', 'severity', 'os_type', 'event_type', 'source_host',
  'source_ip', 'country', 'tags', 'user', 'message'];
// Fields whose values become filters when clicked (country: the source's, geo.country;
// tag: one of the event's tags).
export const FILTERABLE = new Set(['os_type', 'event_type', 'source_host', 'source_ip', 'user',
  'app', 'level', 'severity', 'http_status', 'request_id', 'country', 'asn', 'tag']);

// The country column: "🇬🇧 GB", its name and city in the title.
function countryCell(ev, onValue) {
  const g = ev.geo || {};
  if (!g.country) return h('td', { class: 'muted' }, '');
  const title = [g.country_name, g.city].filter(Boolean).join(', ') || g.country;
  if (!onValue) return h('td', { class: 'nowrap', title }, countryCode(g.country));
  return h('td', { class: 'nowrap' },
    h('button', { type: 'button', class: 'link value', title,
      'data-field': 'country', 'data-value': g.country,
      onclick: (e) => { e.stopPropagation(); onValue('country', g.country); } }, countryCode(g.country)));
}

function cell(ev, col, onValue) {
  if (col === 'country') return countryCell(ev, onValue);
  if (col === 'tags') {
    return h('td', { class: 'tags' }, tagChips(ev.tags, onValue ? (t) => onValue('tag', t) : null));
  }
  const v = ev[col];
  if (v === undefined || v === null || v === '') return h('td', { class: 'muted' }, '');
  if (col === 'timestamp') return h('td', { class: 'nowrap' }, h('time', { datetime: v }, fmtTime(v)));
  const content = col === 'severity' ? sevBadge(v) : String(v);
  if (onValue && FILTERABLE.has(col) && !(col === 'source_ip' && v === 'N/A')) {
    return h('td', { class: col === 'message' ? 'msg' : '' },
      h('button', { type: 'button', class: 'link value', title: `Filter on ${col} = ${v}`,
        'data-field': col, onclick: (e) => { e.stopPropagation(); onValue(col, String(v)); } }, content));
  }
  return h('td', { class: col === 'message' ? 'msg' : '' }, content);
}

// events: list items of GET /events. onOpen(ev) opens one, onValue(field, value) filters.
export function eventsTable(events, columns, { onOpen, onValue, testid = 'events-table' } = {}) {
  const names = Object.fromEntries(COLUMNS);
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, names[c] || c)),
    onOpen ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Details')) : null);
  const rows = events.map((ev) => {
    const tr = h('tr', { 'data-id': ev.event_id },
      columns.map((c) => cell(ev, c, onValue)),
      onOpen ? h('td', {}, h('button', { type: 'button', class: 'btn small', 'data-testid': 'open-event',
        onclick: () => onOpen(ev) }, 'Details')) : null);
    return tr;
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'events', 'data-testid': testid }, h('thead', {}, head), h('tbody', {}, rows)));
}
