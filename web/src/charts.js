// charts.js — the charts: a uPlot line chart of counts per time bucket (one series per key,
// each named in the legend, so colour is never the only cue) and a horizontal bar list for
// top-N values, drawn as HTML so that every value and count is readable text.
import uPlot from 'uplot';
import { h, fmtNum, fmtTime, zoneLabel, SEVERITY } from './dom.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b',
  '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#ad494a'];
const DASH = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

// data: /stats/timeseries answer. Returns {el, destroy}.
export function lineChart(data, { height = 240, label = 'Events' } = {}) {
  const el = h('div', { class: 'chart', role: 'img', 'data-zone': zoneLabel(),
    'aria-label': `${label} per ${data.interval || 'bucket'}, ${data.series.length} series, times in ${zoneLabel()}` });
  const xs = data.buckets;
  // Times as the tables show them: local 24-hour time, the zone named on the axis and in
  // the legend's time (fmtTime).
  const series = [{ label: 'Time', value: (u, v) => (v === null || v === undefined ? '—' : fmtTime(v * 1000)) }];
  const cols = [xs];
  data.series.forEach((s, i) => {
    const name = data.by === 'severity' && SEVERITY[s.key] ? `${SEVERITY[s.key]} (${s.key})` : s.key;
    series.push({ label: name, stroke: PALETTE[i % PALETTE.length], width: 2,
      dash: DASH[Math.floor(i / 4) % DASH.length], points: { show: xs.length < 60 } });
    cols.push(s.counts);
  });
  if (data.series.length === 0) {
    series.push({ label: 'no events', stroke: '#999' });
    cols.push(xs.map(() => 0));
  }
  let plot = null;
  const make = () => {
    const width = Math.max(260, el.clientWidth || el.parentElement?.clientWidth || 600);
    const dark = document.documentElement.dataset.theme === 'dark';
    const axis = { stroke: dark ? '#c9d1d9' : '#333', grid: { stroke: dark ? '#30363d' : '#e5e5e5' },
      ticks: { stroke: dark ? '#30363d' : '#ccc' } };
    const p2 = (x) => String(x).padStart(2, '0');
    const ticks = (u, splits) => splits.map((v, i) => {
      const d = new Date(v * 1000);
      const prev = i > 0 ? new Date(splits[i - 1] * 1000) : null;
      const hm = `${p2(d.getHours())}:${p2(d.getMinutes())}`;
      const day = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
      return !prev || prev.toDateString() !== d.toDateString() ? `${day}\n${hm}` : hm;
    });
    plot = new uPlot({ width, height, series, scales: { x: { time: true } },
      axes: [{ ...axis, values: ticks, label: `Time (${zoneLabel()})` }, { ...axis, label }],
      legend: { live: true } }, cols, el);
  };
  const ro = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (plot && w && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height });
  });
  requestAnimationFrame(() => { if (el.isConnected) { make(); ro.observe(el); } });
  return { el, destroy() { ro.disconnect(); if (plot) plot.destroy(); } };
}

// values: [{value, count}], onPick(value) when a bar is chosen; label(value) draws a value
// (its text by default), title(value) says more of it on hover.
export function barList(values, { onPick, unit = 'events', label = String, title = () => null } = {}) {
  const max = Math.max(1, ...values.map((v) => v.count));
  return h('ol', { class: 'bars' }, values.map((v) => {
    const bar = h('span', { class: 'bar-fill' });
    bar.style.width = `${Math.max(2, (100 * v.count) / max)}%`;
    const name = onPick ? h('button', { type: 'button', class: 'link', title: title(v.value), onclick: () => onPick(v.value) }, label(v.value))
      : h('span', { title: title(v.value) }, label(v.value));
    return h('li', { class: 'bar', 'data-value': String(v.value) },
      h('span', { class: 'bar-label' }, name),
      h('span', { class: 'bar-track' }, bar),
      h('span', { class: 'bar-count', title: `${v.count} ${unit}` }, fmtNum(v.count)));
  }));
}
