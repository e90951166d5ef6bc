// range.js — the time-range picker: 15 min, 1 h, 24 h, 7 days, all time (where a page allows
// it), a custom from/to or a jump to a date (the newest events up to the end of that day),
// kept in the page's URL (range=1h, or from=...&to=...) so that a view can be shared.
import { h } from './dom.js';

export const RANGES = [
  ['15m', 'Last 15 minutes', 15 * 60e3],
  ['1h', 'Last hour', 3600e3],
  ['24h', 'Last 24 hours', 86400e3],
  ['7d', 'Last 7 days', 7 * 86400e3],
];

// {from, to} as ISO strings for a picker state {range, from, to}.
export function resolve(state) {
  if (state.range === 'all') return {};
  if (state.range === 'custom') {
    return { from: state.from ? new Date(state.from).toISOString() : undefined,
      to: state.to ? new Date(state.to).toISOString() : undefined };
  }
  const r = RANGES.find((x) => x[0] === state.range) || RANGES[2];
  const to = Date.now();
  return { from: new Date(to - r[2]).toISOString(), to: new Date(to).toISOString() };
}

export function label(state) {
  if (state.range === 'all') return 'All time';
  if (state.range === 'custom') return 'Custom range';
  const r = RANGES.find((x) => x[0] === state.range) || RANGES[2];
  return r[1];
}

// allTime: the page offers "All time" (range=all).
export function fromParams(p, dflt = '24h', { allTime = false } = {}) {
  if (p.get('from') || p.get('to')) return { range: 'custom', from: p.get('from') || '', to: p.get('to') || '' };
  const r = p.get('range');
  if (allTime && r === 'all') return { range: 'all' };
  return { range: RANGES.some((x) => x[0] === r) ? r : dflt };
}

export function toParams(state, p) {
  p.delete('range'); p.delete('from'); p.delete('to');
  if (state.range === 'custom') {
    if (state.from) p.set('from', state.from);
    if (state.to) p.set('to', state.to);
  } else {
    p.set('range', state.range);
  }
}

// datetime-local wants local "YYYY-MM-DDTHH:MM".
function local(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// The picker; onChange(state) when the user picks a range. allTime adds "All time" and
// jumpTo a date field whose day's end becomes the upper bound (history imported long ago).
export function picker(state, onChange, { allTime = false, jumpTo = false } = {}) {
  const sel = h('select', { 'aria-label': 'Time range', class: 'range-select', 'data-testid': 'range' },
    RANGES.map(([v, l]) => h('option', { value: v }, l)),
    allTime ? h('option', { value: 'all' }, 'All time') : null,
    h('option', { value: 'custom' }, 'Custom…'));
  sel.value = state.range;
  const from = h('input', { type: 'datetime-local', 'aria-label': 'From', value: local(state.from) });
  const to = h('input', { type: 'datetime-local', 'aria-label': 'To', value: local(state.to) });
  const apply = h('button', { type: 'button', class: 'btn small' }, 'Apply');
  const custom = h('span', { class: 'range-custom' }, from, to, apply);
  custom.hidden = state.range !== 'custom';
  sel.addEventListener('change', () => {
    custom.hidden = sel.value !== 'custom';
    if (sel.value !== 'custom') onChange({ range: sel.value });
  });
  apply.addEventListener('click', () => {
    const f = from.value ? new Date(from.value).toISOString() : '';
    const t = to.value ? new Date(to.value).toISOString() : '';
    onChange({ range: 'custom', from: f, to: t });
  });
  let jump = null;
  if (jumpTo) {
    const day = h('input', { type: 'date', 'aria-label': 'Jump to date', 'data-testid': 'jump-date',
      value: state.range === 'custom' && !state.from && state.to ? local(state.to).slice(0, 10) : '' });
    day.addEventListener('change', () => {
      if (!day.value) return;
      const end = new Date(`${day.value}T23:59:59.999`); // the end of that day, local time
      if (Number.isNaN(end.getTime())) return;
      sel.value = 'custom';
      custom.hidden = false;
      from.value = '';
      to.value = local(end.toISOString());
      onChange({ range: 'custom', from: '', to: end.toISOString() });
    });
    jump = h('label', { class: 'range-jump' }, 'Jump to ', day);
  }
  return h('span', { class: 'range' }, sel, custom, jump);
}
