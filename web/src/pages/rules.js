// rules.js — detection rules: the list with enabled state and hit counts, a YAML editor that
// is validated by the hub on save (errors shown against their line numbers), enable/disable,
// delete, and a test of the rule against the last 24 hours of stored events.
import { api } from '../api.js';
import { h, clear, fmtNum, fmtTime, spinner, errorBox, empty, sevBadge } from '../dom.js';
import { eventsTable } from '../table.js';

const TEMPLATE = `title: New rule
id: 00000000-0000-0000-0000-000000000000
status: experimental
description: What this rule detects
logsource:
  product: linux
detection:
  selection:
    event_type: LOGIN_FAIL
  condition: selection
level: medium
`;

const LEVEL_SEV = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 };

// Line numbers named by an error text ("line 7", "line 7:3", "7:3:").
export function errorLines(text) {
  const out = new Set();
  for (const m of String(text).matchAll(/\bline\s+(\d+)/gi)) out.add(Number(m[1]));
  return [...out];
}

export function mount(root, ctx) {
  let alive = true;
  let rules = [];
  let available = true;
  let editing = null; // rule id, or '' for a new rule

  const list = h('div', { 'data-testid': 'rules-list' });
  const editor = h('section', { class: 'card', hidden: true, 'data-testid': 'rule-editor' });
  const newBtn = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'new-rule' }, 'New rule');
  newBtn.addEventListener('click', () => edit('', TEMPLATE));
  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Rules'), newBtn), editor, h('section', { class: 'card' }, list));

  function edit(id, yaml) {
    editing = id;
    editor.hidden = false;
    const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
    const area = h('textarea', { class: 'yaml', spellcheck: 'false', 'aria-label': 'Rule YAML', 'data-testid': 'rule-yaml', wrap: 'off' });
    area.value = yaml;
    const errs = h('div', { 'data-testid': 'rule-errors', role: 'alert' });
    const results = h('div', { 'data-testid': 'rule-test-results' });
    const marks = new Set();
    const numbers = () => {
      const n = area.value.split('\n').length;
      clear(gutter, Array.from({ length: n }, (_, i) =>
        h('span', { class: marks.has(i + 1) ? 'bad' : '' }, `${marks.has(i + 1) ? '!' : ' '}${i + 1}\n`)));
      gutter.scrollTop = area.scrollTop;
    };
    area.addEventListener('input', numbers);
    area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });
    numbers();

    function showError(e) {
      marks.clear();
      const msg = e.detail ? (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)) : e.message;
      const lines = errorLines(`${e.message} ${msg}`);
      lines.forEach((l) => marks.add(l));
      numbers();
      clear(errs, h('div', { class: 'error' },
        h('strong', {}, lines.length ? `Error on line ${lines.join(', ')}: ` : 'Error: '), msg));
    }

    const save = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'rule-save' }, 'Save');
    save.addEventListener('click', async () => {
      save.disabled = true;
      clear(errs);
      try {
        const path = editing ? `rules/${encodeURIComponent(editing)}` : 'rules';
        await api(path, { method: editing ? 'PUT' : 'POST', body: area.value, type: 'application/yaml' });
        marks.clear();
        numbers();
        clear(errs, h('p', { class: 'notice' }, 'Saved.'));
        load();
      } catch (e) {
        showError(e);
      } finally {
        save.disabled = false;
      }
    });
    const test = h('button', { type: 'button', class: 'btn', 'data-testid': 'rule-test' }, 'Test against the last 24 h');
    test.addEventListener('click', async () => {
      test.disabled = true;
      clear(results, spinner('Testing…'));
      try {
        const to = new Date();
        const from = new Date(to.getTime() - 86400e3);
        const r = await api('rules/test', { method: 'POST', body: { rule: area.value, from: from.toISOString(), to: to.toISOString() } });
        const evs = r.events || r.matches || [];
        clear(results, h('p', {}, `${fmtNum(r.matched ?? r.count ?? evs.length)} stored events of the last 24 h match${r.complete === false ? ' (scan stopped early)' : ''}.`),
          evs.length ? eventsTable(evs.slice(0, 100), ['timestamp', 'severity', 'event_type', 'source_host', 'source_ip', 'user', 'message']) : null);
      } catch (e) {
        clear(results);
        showError(e);
      } finally {
        test.disabled = false;
      }
    });
    const cancel = h('button', { type: 'button', class: 'btn ghost' }, 'Close');
    cancel.addEventListener('click', () => { editor.hidden = true; editing = null; });
    clear(editor, h('div', { class: 'card-head' }, h('h2', {}, id ? `Edit ${id}` : 'New rule')),
      h('div', { class: 'editor' }, gutter, area), errs,
      h('div', { class: 'alert-actions' }, save, test, cancel), results);
    area.focus();
  }

  async function toggle(rule, cb) {
    cb.disabled = true;
    try {
      await api(`rules/${encodeURIComponent(rule.id)}`, { method: 'PUT', body: { enabled: cb.checked } });
      rule.enabled = cb.checked;
    } catch (e) {
      cb.checked = !cb.checked;
      cb.parentElement.after(errorBox(e));
    } finally {
      cb.disabled = false;
    }
  }

  async function remove(rule) {
    if (!window.confirm(`Delete rule "${rule.title || rule.id}"?`)) return;
    try {
      await api(`rules/${encodeURIComponent(rule.id)}`, { method: 'DELETE' });
      load();
    } catch (e) {
      list.prepend(errorBox(e));
    }
  }

  async function openRule(rule) {
    try {
      const r = await api(`rules/${encodeURIComponent(rule.id)}`);
      edit(rule.id, r.yaml || r.rule || '');
    } catch (e) {
      list.prepend(errorBox(e));
    }
  }

  function render() {
    if (!available) {
      clear(list, empty('Rules are not available on this hub yet: detection is not running (GET /rules answered 404).'));
      newBtn.disabled = true;
      return;
    }
    if (!rules.length) { clear(list, empty('No rules.')); return; }
    clear(list, h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
      h('thead', {}, h('tr', {}, ['Enabled', 'Rule', 'Level', 'Hits', 'Last hit', 'Origin', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rules.map((r) => {
        const cb = h('input', { type: 'checkbox', checked: r.enabled !== false, 'aria-label': `Enable ${r.title || r.id}`, 'data-testid': 'rule-enabled' });
        cb.addEventListener('change', () => toggle(r, cb));
        const sev = r.severity || LEVEL_SEV[r.level] || 0;
        return h('tr', { 'data-id': r.id },
          h('td', {}, h('label', { class: 'check' }, cb, r.enabled !== false ? ' on' : ' off')),
          h('td', {}, h('strong', {}, r.title || r.id), h('span', { class: 'muted block small' }, r.id)),
          h('td', {}, sev ? sevBadge(sev) : (r.level || '')),
          h('td', {}, fmtNum(r.hits ?? r.stats?.hits ?? 0)),
          h('td', {}, fmtTime(r.last_hit ?? r.stats?.last_hit)),
          h('td', { class: 'muted' }, r.origin || ''),
          h('td', { class: 'nowrap' },
            h('button', { type: 'button', class: 'btn small', onclick: () => openRule(r) }, 'Edit'), ' ',
            h('button', { type: 'button', class: 'btn small danger', onclick: () => remove(r) }, 'Delete')));
      })))));
  }

  async function load() {
    if (!rules.length) clear(list, spinner());
    try {
      const r = await api('rules');
      if (!alive) return;
      rules = r.rules || [];
      available = true;
    } catch (e) {
      if (!alive) return;
      if (e.status === 404) available = false;
      else { clear(list, errorBox(e)); return; }
    }
    render();
  }

  load();
  return () => { alive = false; };
}
