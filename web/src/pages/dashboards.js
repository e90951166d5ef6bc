// dashboards.js — saved dashboards: a user composes widgets (time series, top-N bars, a
// single number, a table), each defined by a query, orders and sizes them, and saves the
// dashboard by name on the hub (GET/POST/PUT/DELETE /dashboards).
import { api } from '../api.js';
import { h, clear, fmtNum, spinner, errorBox, empty } from '../dom.js';
import { lineChart, barList } from '../charts.js';
import { eventsTable, DEFAULT_COLUMNS } from '../table.js';
import * as range from '../range.js';

const TYPES = [['timeseries', 'Time series'], ['top', 'Top values (bars)'], ['number', 'Single number'], ['table', 'Table']];
const TOP_FIELDS = ['source_ip', 'user', 'source_host', 'app', 'domain', 'event_type', 'os_type', 'severity'];
const BY = ['os_type', 'event_type', 'severity', 'none'];
const QUERY_KEYS = [['event_type', 'Event type'], ['os_type', 'OS'], ['severity', 'Severity'], ['app', 'App'], ['source_host', 'Host']];

function widgetParams(w, r) {
  const q = { ...r };
  for (const [k] of QUERY_KEYS) if (w.query?.[k]) q[k] = w.query[k];
  return q;
}

async function renderWidget(w, r, ctx, body, cleanups) {
  clear(body, spinner());
  try {
    if (w.type === 'timeseries') {
      const ts = await api('stats/timeseries', { params: { ...widgetParams(w, r), by: w.query?.by || 'os_type', interval: '1m' } });
      const c = lineChart(ts, { height: 200, label: `Events per ${ts.interval}` });
      cleanups.push(() => c.destroy());
      clear(body, ts.total ? c.el : empty('No events.'));
    } else if (w.type === 'top') {
      const t = await api('stats/top', { params: { ...widgetParams(w, r), field: w.query?.field || 'source_ip', n: w.query?.n || 10 } });
      clear(body, t.values.length ? barList(t.values) : empty('No values.'));
    } else if (w.type === 'number') {
      const ts = await api('stats/timeseries', { params: { ...widgetParams(w, r), by: 'none', interval: '1w' } });
      clear(body, h('p', { class: 'big', 'data-value': String(ts.total) }, fmtNum(ts.total)),
        h('p', { class: 'muted small' }, 'events'));
    } else {
      const p = widgetParams(w, r);
      const ev = await api('events', { params: { ...p, q: w.query?.q || undefined, limit: w.query?.n || 10 } });
      clear(body, ev.events.length ? eventsTable(ev.events, DEFAULT_COLUMNS.slice(0, 6), {
        onOpen: (e) => ctx.navigate('explorer', new URLSearchParams({ range: '7d', event: e.event_id })),
      }) : empty('No events.'));
    }
  } catch (e) {
    clear(body, errorBox(e));
  }
}

export function mount(root, ctx) {
  let alive = true;
  let state = range.fromParams(ctx.params);
  let current = null; // {id?, name, widgets}
  let editMode = false;
  let cleanups = [];

  const side = h('nav', { class: 'card dash-list', 'aria-label': 'Saved dashboards', 'data-testid': 'dash-list' });
  const view = h('section', { class: 'dash-view', 'data-testid': 'dash-view' });
  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Dashboards'),
    range.picker(state, (s) => { state = s; saveQuery(); show(); })),
  h('div', { class: 'dash-layout' }, side, view));

  function saveQuery() {
    const q = new URLSearchParams();
    if (current?.id) q.set('id', String(current.id));
    range.toParams(state, q);
    ctx.setQuery(q);
  }

  async function loadList(selectId) {
    try {
      const r = await api('dashboards');
      if (!alive) return;
      const newBtn = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'dash-new' }, 'New dashboard');
      newBtn.addEventListener('click', () => { current = { name: '', widgets: [] }; editMode = true; saveQuery(); show(); });
      clear(side, h('h2', {}, 'Saved'), r.dashboards.length
        ? h('ul', { class: 'plain' }, r.dashboards.map((d) => h('li', {},
          h('button', { type: 'button', class: current?.id === d.id ? 'link active' : 'link', 'data-testid': 'dash-item',
            onclick: () => open(d.id) }, d.name))))
        : empty('None yet.'), newBtn);
      if (selectId) await open(selectId);
      else if (!current) show();
    } catch (e) {
      if (alive) clear(side, errorBox(e));
    }
  }

  async function open(id) {
    try {
      current = await api(`dashboards/${id}`);
      editMode = false;
      saveQuery();
      show();
      loadListOnly();
    } catch (e) {
      if (alive) clear(view, errorBox(e));
    }
  }

  function loadListOnly() {
    for (const b of side.querySelectorAll('[data-testid="dash-item"]')) b.classList.toggle('active', b.textContent === current?.name);
  }

  function editor() {
    const name = h('input', { id: 'dash-name', value: current.name, required: true, 'data-testid': 'dash-name', maxlength: 200 });
    name.addEventListener('input', () => { current.name = name.value; });
    const type = h('select', { id: 'w-type', 'data-testid': 'w-type' }, TYPES.map(([v, l]) => h('option', { value: v }, l)));
    const title = h('input', { id: 'w-title', placeholder: 'Title', 'data-testid': 'w-title' });
    const field = h('select', { id: 'w-field', 'data-testid': 'w-field' }, TOP_FIELDS.map((f) => h('option', { value: f }, f)));
    const by = h('select', { id: 'w-by', 'data-testid': 'w-by' }, BY.map((f) => h('option', { value: f }, f)));
    const n = h('input', { id: 'w-n', type: 'number', min: 1, max: 100, value: 10 });
    const width = h('select', { id: 'w-width', 'data-testid': 'w-width' }, [['1', 'Narrow'], ['2', 'Wide'], ['3', 'Full width']].map(([v, l]) => h('option', { value: v }, l)));
    const q = {};
    const qFields = QUERY_KEYS.map(([k, l]) => {
      q[k] = h('input', { id: `w-${k}`, 'data-testid': `w-${k}`, placeholder: 'any' });
      return h('div', { class: 'field' }, h('label', { for: `w-${k}` }, l), q[k]);
    });
    const add = h('button', { type: 'button', class: 'btn', 'data-testid': 'w-add' }, 'Add widget');
    add.addEventListener('click', () => {
      const query = {};
      for (const [k] of QUERY_KEYS) if (q[k].value.trim()) query[k] = q[k].value.trim();
      if (type.value === 'top') { query.field = field.value; query.n = Number(n.value) || 10; }
      if (type.value === 'timeseries') query.by = by.value;
      if (type.value === 'table') query.n = Number(n.value) || 10;
      current.widgets.push({ type: type.value, title: title.value.trim() || TYPES.find((t) => t[0] === type.value)[1], query, width: Number(width.value) });
      show();
    });
    const save = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'dash-save' }, 'Save');
    const msg = h('span', { role: 'status', 'data-testid': 'dash-msg' });
    save.addEventListener('click', async () => {
      if (!current.name.trim()) { msg.textContent = 'Give the dashboard a name.'; msg.className = 'error'; return; }
      save.disabled = true;
      try {
        const body = { name: current.name.trim(), widgets: current.widgets };
        const r = current.id ? await api(`dashboards/${current.id}`, { method: 'PUT', body })
          : await api('dashboards', { method: 'POST', body });
        current = r;
        editMode = false;
        saveQuery();
        await loadList();
        show();
      } catch (e) {
        msg.textContent = e.status === 409 ? 'A dashboard of that name exists.' : e.message;
        msg.className = 'error';
        save.disabled = false;
      }
    });
    const done = h('button', { type: 'button', class: 'btn ghost' }, current.id ? 'Cancel' : 'Discard');
    done.addEventListener('click', () => { if (current.id) open(current.id); else { current = null; show(); } });
    return h('div', { class: 'card', 'data-testid': 'dash-editor' },
      h('div', { class: 'field' }, h('label', { for: 'dash-name' }, 'Name'), name),
      h('h3', {}, 'Add a widget'),
      h('div', { class: 'filters-form' },
        h('div', { class: 'field' }, h('label', { for: 'w-type' }, 'Type'), type),
        h('div', { class: 'field' }, h('label', { for: 'w-title' }, 'Title'), title),
        h('div', { class: 'field' }, h('label', { for: 'w-field' }, 'Field (top)'), field),
        h('div', { class: 'field' }, h('label', { for: 'w-by' }, 'Split by (time series)'), by),
        h('div', { class: 'field' }, h('label', { for: 'w-n' }, 'How many (top, table)'), n),
        h('div', { class: 'field' }, h('label', { for: 'w-width' }, 'Width'), width),
        qFields,
        h('div', { class: 'field actions' }, add)),
      h('div', { class: 'alert-actions' }, save, done, msg));
  }

  function widgetCard(w, i, r) {
    const body = h('div', { class: 'widget-body' });
    const tools = editMode ? h('span', { class: 'widget-tools' },
      h('button', { type: 'button', class: 'btn small', disabled: i === 0, 'aria-label': `Move ${w.title} up`,
        onclick: () => { current.widgets.splice(i - 1, 0, current.widgets.splice(i, 1)[0]); show(); } }, '↑'),
      h('button', { type: 'button', class: 'btn small', disabled: i === current.widgets.length - 1, 'aria-label': `Move ${w.title} down`,
        onclick: () => { current.widgets.splice(i + 1, 0, current.widgets.splice(i, 1)[0]); show(); } }, '↓'),
      h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Remove ${w.title}`,
        onclick: () => { current.widgets.splice(i, 1); show(); } }, 'Remove')) : null;
    const q = Object.entries(w.query || {}).map(([k, v]) => `${k}=${v}`).join(' ');
    const card = h('article', { class: `card widget w${w.width || 1}`, 'data-testid': 'widget', 'data-type': w.type },
      h('div', { class: 'card-head' }, h('h2', {}, w.title || w.type), tools),
      h('p', { class: 'muted small' }, `${TYPES.find((t) => t[0] === w.type)?.[1] || w.type}${q ? ` · ${q}` : ''}`), body);
    renderWidget(w, r, ctx, body, cleanups);
    return card;
  }

  function show() {
    cleanups.forEach((f) => f());
    cleanups = [];
    if (!current) {
      clear(view, empty('Choose a saved dashboard or make a new one.'));
      return;
    }
    const r = range.resolve(state);
    const head = h('div', { class: 'card-head' }, h('h2', { 'data-testid': 'dash-title' }, current.name || 'New dashboard'));
    if (!editMode) {
      const edit = h('button', { type: 'button', class: 'btn', 'data-testid': 'dash-edit' }, 'Edit');
      edit.addEventListener('click', () => { editMode = true; show(); });
      const del = h('button', { type: 'button', class: 'btn danger', 'data-testid': 'dash-delete' }, 'Delete');
      del.addEventListener('click', async () => {
        if (!window.confirm(`Delete dashboard "${current.name}"?`)) return;
        try {
          await api(`dashboards/${current.id}`, { method: 'DELETE' });
          current = null;
          saveQuery();
          loadList();
        } catch (e) {
          view.prepend(errorBox(e));
        }
      });
      head.append(h('span', {}, edit, ' ', del));
    }
    clear(view, head, editMode ? editor() : null,
      current.widgets.length ? h('div', { class: 'widgets' }, current.widgets.map((w, i) => widgetCard(w, i, r)))
        : empty(editMode ? 'Add widgets above.' : 'This dashboard has no widgets.'));
  }

  const id = Number(ctx.params.get('id')) || 0;
  loadList(id || undefined);
  return () => { alive = false; cleanups.forEach((f) => f()); };
}
