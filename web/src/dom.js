// dom.js — tiny DOM helpers (no framework): h() builds elements, plus the formatting the
// pages share (times, severities with their names, numbers).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const SEVERITY = { 1: 'Info', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical' };

// Severity as a coloured badge that also says its name and number (readable without colour).
export function sevBadge(s) {
  const n = Number(s) || 0;
  return h('span', { class: `sev sev-${n}`, title: `severity ${n}` }, `${SEVERITY[n] || '?'} (${n})`);
}

// The browser's zone as an offset: "UTC", "UTC+01:00", "UTC-05:30" (at time d).
export function zoneLabel(d = new Date()) {
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'UTC';
  const a = Math.abs(off);
  const p = (x) => String(x).padStart(2, '0');
  return `UTC${off > 0 ? '+' : '-'}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}

// Every time the dashboard shows, in tables and charts alike: local time and its zone,
// "2026-03-01 14:05:09 UTC+01:00". ms or an ISO string.
export function fmtTime(iso) {
  if (iso === undefined || iso === null || iso === '') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (x, n = 2) => String(x).padStart(n, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zoneLabel(d)}`;
}

export function fmtNum(n) {
  if (n === null || n === undefined) return '—';
  return Number(n).toLocaleString('en-US');
}

export function pretty(v) {
  if (typeof v === 'string') {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

// A button that copies text, with feedback that does not rely on colour.
export function copyButton(getText, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'btn small' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(getText());
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

export function spinner(text = 'Loading…') {
  return h('p', { class: 'muted', role: 'status' }, text);
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// ---- enrichment: countries, autonomous systems, tags ----

// The flag of a two-letter country code, made of its two regional-indicator letters ('' for
// anything that is not two capital letters).
export function flagEmoji(code) {
  if (!/^[A-Z]{2}$/.test(code || '')) return '';
  return String.fromCodePoint(...[...code].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

const regionNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null;

// The English name of a country code, or '' when unknown.
export function countryName(code) {
  try { return regionNames && /^[A-Z]{2}$/.test(code || '') ? regionNames.of(code) || '' : ''; } catch { return ''; }
}

// "🇬🇧 GB" as a span (the flag hidden from screen readers: the code says it).
export function countryCode(code) {
  const f = flagEmoji(code);
  return h('span', { class: 'country' }, f ? h('span', { class: 'flag', 'aria-hidden': 'true' }, f) : null,
    h('span', { class: 'cc' }, code));
}

// "AS29518 Bredband2 AB"
export function asnLabel(geo) {
  if (!geo || geo.asn === undefined || geo.asn === null) return '';
  return geo.as_org ? `AS${geo.asn} ${geo.as_org}` : `AS${geo.asn}`;
}

export const isIntelTag = (t) => /^intel:/.test(t);

// Tags as small chips (threat-intel ones in a warning colour, and said so in their title);
// onPick(tag) makes each one a button that filters on it.
export function tagChips(tags, onPick) {
  if (!Array.isArray(tags) || !tags.length) return null;
  return h('span', { class: 'chips' }, tags.map((t) => {
    const cls = isIntelTag(t) ? 'chip intel' : 'chip';
    const title = isIntelTag(t) ? `threat intelligence: the source address is on the list ${t.slice(6)}` : `tag ${t}`;
    return onPick
      ? h('button', { type: 'button', class: cls, 'data-tag': t, title: `${title} — filter on it`,
        onclick: (e) => { e.stopPropagation(); onPick(t); } }, t)
      : h('span', { class: cls, 'data-tag': t, title }, t);
  }));
}
