// rules.js — detection rules: the list with enabled state, the events each matched since the
// hub started and the alerts it raised (last 24 h / all time), helper rules (those only a
// correlation uses) indented under the correlation they feed; a YAML editor that is validated
// by the hub on save (errors shown against their line numbers), enable/disable, delete, and a
// test of the rule against the last 24 hours of stored events.
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

// The rules in the order they are listed: each rule that raises alerts of its own, then the
// helper rules that feed it (used_by: its id), depth first -> [{rule, depth, parent}]. A
// helper whose correlation is missing is listed as a rule of its own.
export function nest(rules) {
  const byId = new Map(rules.map((r) => [r.id, r]));
  const feeds = new Map();
  const top = [];
  for (const r of rules) {
    if (r.used_by && r.used_by !== r.id && byId.has(r.used_by)) {
      if (!feeds.has(r.used_by)) feeds.set(r.used_by, []);
      feeds.get(r.used_by).push(r);
    } else {
      top.push(r);
    }
  }
  const out = [];
  const seen = new Set();
  const walk = (r, depth, parent) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    out.push({ rule: r, depth, parent });
    for (const k of feeds.get(r.id) || []) walk(k, depth + 1, r);
  };
  top.forEach((r) => walk(r, 0, null));
  rules.forEach((r) => walk(r, 0, null)); // helpers in a loop of used_by
  return out;
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
  const counted = h('span', { class: 'muted', 'data-testid': 'rules-count' });
  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Rules'), counted, newBtn), editor, h('section', { class: 'card' }, list));

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
        const saved = await api(path, { method: editing ? 'PUT' : 'POST', body: area.value, type: 'application/yaml' });
        marks.clear();
        numbers();
        const warnings = (saved?.rules || [saved]).filter((x) => x && x.warning)
          .map((x) => h('p', { class: 'rule-warning', 'data-testid': 'rule-saved-warning', role: 'note' }, `⚠ ${x.title || x.id}: ${x.warning}`));
        clear(errs, h('p', { class: 'notice' }, 'Saved.'), ...warnings);
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
    const rows = nest(rules);
    const detections = rows.filter((x) => x.depth === 0).length;
    const helpers = rows.length - detections;
    counted.dataset.value = String(detections);
    counted.textContent = `${fmtNum(detections)} detection${detections === 1 ? '' : 's'}` +
      (helpers ? ` (and ${fmtNum(helpers)} helper rule${helpers === 1 ? '' : 's'} that feed correlations)` : '');
    if (!rules.length) { clear(list, empty('No rules.')); return; }
    clear(list, h('div', { class: 'table-wrap' }, h('table', { class: 'events rules' },
      h('thead', {}, h('tr', {}, ['Enabled', 'Rule', 'Level', 'Matches since start', 'Alerts (24 h / all)', 'Last hit', 'Origin', '']
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map(({ rule: r, depth, parent }) => {
        const cb = h('input', { type: 'checkbox', checked: r.enabled !== false, 'aria-label': `Enable ${r.title || r.id}`, 'data-testid': 'rule-enabled' });
        cb.addEventListener('change', () => toggle(r, cb));
        const sev = r.severity || LEVEL_SEV[r.level] || 0;
        const groupBy = Array.isArray(r.group_by) && r.group_by.length ? r.group_by : null;
        const matches = r.matches ?? null;
        return h('tr', { 'data-id': r.id, 'data-depth': String(depth), class: depth ? `helper depth-${Math.min(depth, 3)}` : null },
          h('td', {}, h('label', { class: 'check' }, cb, r.enabled !== false ? ' on' : ' off')),
          h('td', { class: 'rule-name' }, h('strong', { title: r.summary ? `Alerts say: ${r.summary}` : null }, r.title || r.id),
            parent ? h('span', { class: 'feeds muted block small', 'data-testid': 'feeds', 'data-parent': parent.id },
              `feeds ${parent.title || parent.id}`) : null,
            groupBy && !parent ? h('span', { class: 'muted block small', 'data-testid': 'group-by' }, `one alert per ${groupBy.join(', ')}`) : null,
            // The hub says when nothing it receives can feed the rule (its logsource).
            r.warning ? h('span', { class: 'rule-warning block small', 'data-testid': 'rule-warning', role: 'note' }, `⚠ ${r.warning}`) : null,
            h('span', { class: 'muted block small' }, r.id)),
          h('td', {}, sev ? sevBadge(sev) : (r.level || '')),
          h('td', { class: 'num', 'data-testid': 'matches', 'data-value': matches === null ? '' : String(matches),
            title: matches === null ? 'this hub does not count matches' : 'events the rule matched since the hub started' },
          fmtNum(matches)),
          parent
            ? h('td', { class: 'num muted', 'data-testid': 'alerts', title: 'a helper rule raises no alerts of its own' }, '—')
            : h('td', { class: 'num', 'data-testid': 'alerts', 'data-value': `${r.alerts_24h ?? ''}/${r.alerts ?? ''}` },
              `${fmtNum(r.alerts_24h)} / ${fmtNum(r.alerts ?? 0)}`,
              r.alert_events ? h('span', { class: 'muted block small' }, `${fmtNum(r.alert_events)} event${r.alert_events === 1 ? '' : 's'}`) : null),
          h('td', {}, fmtTime(r.last_hit ?? r.stats?.last_hit)),
          h('td', { class: 'muted' }, r.origin || ''),
          // Built-in rules can only be turned on or off (the hub refuses to change or delete them).
          h('td', { class: 'nowrap' }, r.builtin
            ? h('button', { type: 'button', class: 'btn small', 'data-testid': 'rule-switch',
              onclick: () => { cb.checked = r.enabled === false; toggle(r, cb).then(render); } },
            r.enabled !== false ? 'Disable' : 'Enable')
            : [h('button', { type: 'button', class: 'btn small', 'data-testid': 'rule-edit', onclick: () => openRule(r) }, 'Edit'), ' ',
              h('button', { type: 'button', class: 'btn small danger', 'data-testid': 'rule-delete', onclick: () => remove(r) }, 'Delete')]));
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
