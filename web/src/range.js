// range.js — the time-range picker: 15 min, 1 h, 24 h, 7 days or a custom from/to, kept in
// the page's URL (range=1h, or from=...&to=...) so that a view can be shared.
import { h } from './dom.js';

export const RANGES = [
  ['15m', 'Last 15 minutes', 15 * 60e3],
  ['1h', 'Last hour', 3600e3],
  ['24h', 'Last 24 hours', 86400e3],
  ['7d', 'Last 7 days', 7 * 86400e3],
];

// {from, to} as ISO strings for a picker state {range, from, to}.
export function resolve(state) {
  if (state.range === 'custom') {
    return { from: state.from ? new Date(state.from).toISOString() : undefined,
      to: state.to ? new Date(state.to).toISOString() : undefined };
  }
  const r = RANGES.find((x) => x[0] === state.range) || RANGES[2];
  const to = Date.now();
  return { from: new Date(to - r[2]).toISOString(), to: new Date(to).toISOString() };
}

export function label(state) {
  if (state.range === 'custom') return 'Custom range';
  const r = RANGES.find((x) => x[0] === state.range) || RANGES[2];
  return r[1];
}

export function fromParams(p, dflt = '24h') {
  if (p.get('from') || p.get('to')) return { range: 'custom', from: p.get('from') || '', to: p.get('to') || '' };
  const r = p.get('range');
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

// The picker; onChange(state) when the user picks a range.
export function picker(state, onChange) {
  const sel = h('select', { 'aria-label': 'Time range', class: 'range-select' },
    RANGES.map(([v, l]) => h('option', { value: v }, l)),
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
  return h('span', { class: 'range' }, sel, custom);
}
