// settings.js — what an admin manages from the dashboard: agent API keys (created keys shown
// once with the agent's command line, events per key, revoke), users (add, change role,
// reset password, remove), notification channels (counters, last error, a test message), the
// audit log filtered by actor and action, dead letters, the sources' health (tailed files, syslog
// listeners, agents) and the running configuration with its secrets masked. Analysts see why these are closed to them.
import { api, user } from '../api.js';
import { h, clear, fmtNum, fmtTime, spinner, errorBox, empty, copyButton } from '../dom.js';

const TABS = [['keys', 'Agent keys'], ['users', 'Users'], ['channels', 'Channels'], ['audit', 'Audit log'], ['dead', 'Dead letters'], ['sources', 'Sources'], ['config', 'Configuration']];
const PASSWORD_MIN = 12;

// The hub's URL as an agent reaches it (with the root path, without the final slash).
export function hubUrl() {
  return new URL('.', document.baseURI).href.replace(/\/$/, '');
}

export function agentCommand(key) {
  return `minisiem-agent --server ${hubUrl()} --api-key ${key} --source linux-auth`;
}

function table(cols, rows, testid) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'events settings-table', 'data-testid': testid },
      h('thead', {}, h('tr', {}, cols.map((c) => (Array.isArray(c)
        ? h('th', { scope: 'col', class: c[1] }, c[0]) : h('th', { scope: 'col' }, c))))),
      h('tbody', {}, rows)));
}

function closedTo(err) {
  return err && err.status === 403
    ? h('p', { class: 'notice', 'data-testid': 'admin-only' }, 'Only an admin can see and change this.')
    : errorBox(err);
}

function msgLine(testid) {
  return h('p', { class: 'hidden', role: 'status', 'data-testid': testid });
}

function say(el, text, isError) {
  el.textContent = text;
  el.className = isError ? 'error' : 'notice';
}

// ---- agent keys ----

function keysTab(body) {
  const name = h('input', { id: 'key-name', placeholder: 'web1-agent', maxlength: 100, required: true, 'data-testid': 'key-name' });
  const msg = msgLine('key-msg');
  const created = h('div', { 'data-testid': 'key-created', hidden: true });
  const list = h('div', {}, spinner());
  const form = h('form', { class: 'toolbar', 'data-testid': 'key-form' },
    h('label', { for: 'key-name' }, 'New key for'), name,
    h('button', { type: 'submit', class: 'btn primary' }, 'Create key'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const k = await api('keys', { method: 'POST', body: { name: name.value.trim() } });
      name.value = '';
      const cmd = agentCommand(k.key);
      clear(created,
        h('p', { class: 'notice' }, `Key "${k.name}" created. It is shown only now: copy it before leaving this page.`),
        h('div', { class: 'secret-row' }, h('code', { class: 'secret', 'data-testid': 'new-key' }, k.key), copyButton(() => k.key, 'Copy key')),
        h('p', { class: 'muted' }, 'On the machine to watch, run:'),
        h('div', { class: 'secret-row' }, h('code', { class: 'secret', 'data-testid': 'agent-command' }, cmd), copyButton(() => cmd, 'Copy command')));
      created.hidden = false;
      msg.className = 'hidden';
      await load();
    } catch (ex) {
      say(msg, ex.message, true);
    }
  });
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Agent API keys'), form, msg, created, list));

  async function revoke(k) {
    if (!window.confirm(`Revoke key "${k.name}" (${k.id})? Agents using it stop being accepted.`)) return;
    try {
      await api(`keys/${k.id}`, { method: 'DELETE' });
      say(msg, `Key "${k.name}" revoked.`);
      await load();
    } catch (ex) {
      say(msg, ex.message, true);
    }
  }

  async function load() {
    let r;
    try {
      r = await api('keys');
    } catch (ex) {
      form.hidden = true;
      clear(list, closedTo(ex));
      return;
    }
    const rows = r.keys.map((k) => {
      const revoked = k.revoked === true || k.revoked === 1;
      return h('tr', { 'data-key-id': k.id, class: revoked ? 'revoked' : '' },
        h('td', {}, k.name), h('td', { class: 'num' }, k.id), h('td', { class: 'nowrap' }, fmtTime(k.created_at)),
        h('td', { class: 'nowrap' }, k.last_seen ? fmtTime(k.last_seen) : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'num', 'data-testid': 'key-events' }, fmtNum(k.events)),
        h('td', {}, revoked ? h('span', { class: 'muted' }, 'revoked')
          : h('button', { type: 'button', class: 'btn small danger', 'data-testid': 'revoke', onclick: () => revoke(k) }, 'Revoke')));
    });
    const env = (r.env_keys || []).map((k) => h('tr', { 'data-env-key': k.name },
      h('td', {}, k.name), h('td', { class: 'muted' }, 'env'), h('td', { class: 'muted' }, 'SIEM_API_KEYS'),
      h('td', { class: 'nowrap' }, k.last_event ? fmtTime(k.last_event) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'num', 'data-testid': 'key-events' }, fmtNum(k.events)),
      h('td', { class: 'muted' }, 'set by the hub\'s environment; events since it started')));
    clear(list, rows.length || env.length
      ? table(['Name', 'Id', 'Created', 'Last seen', 'Events', ''], [...rows, ...env], 'keys-table')
      : empty('No agent keys yet.'));
  }
  load();
}

// ---- users ----

function usersTab(body, me) {
  const name = h('input', { id: 'user-name', maxlength: 100, required: true, autocomplete: 'off', 'data-testid': 'user-name' });
  const role = h('select', { id: 'user-role', 'data-testid': 'user-role' }, h('option', { value: 'analyst' }, 'analyst'), h('option', { value: 'admin' }, 'admin'));
  const pass = h('input', { id: 'user-pass', type: 'password', minlength: PASSWORD_MIN, required: true, autocomplete: 'new-password', 'data-testid': 'user-pass' });
  const msg = msgLine('user-msg');
  const list = h('div', {}, spinner());
  const form = h('form', { class: 'toolbar', 'data-testid': 'user-form' },
    h('label', { for: 'user-name' }, 'Name'), name, h('label', { for: 'user-role' }, 'Role'), role,
    h('label', { for: 'user-pass' }, `Password (${PASSWORD_MIN}+ characters)`), pass,
    h('button', { type: 'submit', class: 'btn primary' }, 'Add user'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('users', { method: 'POST', body: { name: name.value.trim(), role: role.value, password: pass.value } });
      say(msg, `User "${name.value.trim()}" added.`);
      name.value = '';
      pass.value = '';
      await load();
    } catch (ex) {
      say(msg, ex.status === 409 ? `There is a user "${name.value.trim()}" already.` : ex.message, true);
    }
  });
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Users'), form, msg, list));

  async function act(fn, ok) {
    try {
      await fn();
      say(msg, ok);
      await load();
    } catch (ex) {
      say(msg, ex.message, true);
    }
  }

  function row(u) {
    const fixed = u.builtin || u.name === me;
    const roleSel = h('select', { 'aria-label': `Role of ${u.name}`, 'data-testid': 'row-role', disabled: fixed },
      ['analyst', 'admin'].map((r) => h('option', { value: r, selected: r === u.role ? '' : null }, r)));
    roleSel.value = u.role;
    roleSel.addEventListener('change', () => act(
      () => api(`users/${encodeURIComponent(u.name)}`, { method: 'PUT', body: { role: roleSel.value } }),
      `${u.name} is now ${roleSel.value === 'admin' ? 'an admin' : 'an analyst'}.`));
    const reset = h('button', { type: 'button', class: 'btn small', 'data-testid': 'reset-password', disabled: u.builtin }, 'Reset password');
    reset.addEventListener('click', () => {
      const pw = window.prompt(`New password for ${u.name} (${PASSWORD_MIN} characters or more):`);
      if (pw === null) return;
      act(() => api(`users/${encodeURIComponent(u.name)}/password`, { method: 'POST', body: { password: pw } }),
        `Password of ${u.name} changed; their sessions have ended.`);
    });
    const remove = h('button', { type: 'button', class: 'btn small danger', 'data-testid': 'remove-user', disabled: fixed }, 'Remove');
    remove.addEventListener('click', () => {
      if (!window.confirm(`Remove user "${u.name}"?`)) return;
      act(() => api(`users/${encodeURIComponent(u.name)}`, { method: 'DELETE' }), `User "${u.name}" removed.`);
    });
    return h('tr', { 'data-user': u.name },
      h('td', {}, u.name, u.builtin ? h('span', { class: 'muted' }, ' (built-in)') : null, u.name === me ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', {}, roleSel),
      h('td', { class: 'nowrap' }, u.builtin ? h('span', { class: 'muted' }, '—') : fmtTime(u.created_at)),
      h('td', { class: 'actions' }, reset, ' ', remove));
  }

  async function load() {
    try {
      const r = await api('users');
      clear(list, table(['Name', 'Role', 'Created', ''], r.users.map(row), 'users-table'),
        h('p', { class: 'muted' }, 'The built-in admin\'s password is changed with ', h('code', {}, 'minisiem users passwd admin'), '.'));
    } catch (ex) {
      form.hidden = true;
      clear(list, closedTo(ex));
    }
  }
  load();
}

// ---- notification channels ----

function channelsTab(body) {
  const msg = msgLine('channel-msg');
  const list = h('div', {}, spinner());
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Notification channels'),
    h('p', { class: 'muted' }, 'Channels come from the file of --notify-config. ', h('b', {}, 'Send test'),
      ' sends a message through a channel now and says whether it arrived.'), msg, list));

  async function test(c, btn) {
    btn.disabled = true;
    msg.className = 'hidden';
    try {
      await api(`alerts/channels/${encodeURIComponent(c.name)}/test`, { method: 'POST' });
      say(msg, `Test message delivered on "${c.name}".`);
    } catch (ex) {
      say(msg, ex.status === 403 ? 'Only an admin can send a test message.'
        : `Test message on "${c.name}" not delivered: ${ex.detail || ex.message}`, true);
    }
    btn.disabled = false;
    await load();
  }

  async function load() {
    let r;
    try {
      r = await api('alerts/channels');
    } catch (ex) {
      clear(list, errorBox(ex));
      return;
    }
    const rows = (r.channels || []).map((c) => {
      const btn = h('button', { type: 'button', class: 'btn small', 'data-testid': 'channel-test' }, 'Send test');
      btn.addEventListener('click', () => test(c, btn));
      return h('tr', { 'data-channel': c.name },
        h('td', {}, c.name), h('td', {}, c.type), h('td', { class: 'msg' }, h('code', {}, c.url)), h('td', {}, c.min_level),
        h('td', { class: 'num', 'data-testid': 'channel-sent' }, fmtNum(c.sent)),
        h('td', { class: 'num', 'data-testid': 'channel-failed' }, fmtNum(c.failed)),
        h('td', { class: 'nowrap' }, c.last_sent_at ? fmtTime(c.last_sent_at) : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'msg', 'data-testid': 'channel-error' }, c.last_error
          ? [h('span', { class: 'nowrap' }, fmtTime(c.last_error_at)), ' ', c.last_error] : h('span', { class: 'muted' }, 'none')),
        h('td', {}, btn));
    });
    clear(list, rows.length
      ? table(['Name', 'Type', 'URL', 'Min level', 'Sent', 'Failed', 'Last sent', 'Last error', ''], rows, 'channels-table')
      : empty('No notification channels: start the hub with --notify-config FILE (see docs/alerting.md).'));
  }
  load();
}

// ---- dead letters ----

function deadTab(body) {
  const list = h('div', {}, spinner());
  const msg = msgLine('dead-msg');
  const picked = new Set();
  const replay = h('button', { type: 'button', class: 'btn primary', disabled: true, 'data-testid': 'dead-replay' }, 'Replay');
  const count = h('span', { class: 'muted', 'data-testid': 'dead-picked' }, '');
  const sync = () => {
    replay.disabled = picked.size === 0;
    count.textContent = picked.size ? `${fmtNum(picked.size)} selected` : '';
  };
  replay.addEventListener('click', async () => {
    const ids = [...picked];
    replay.disabled = true;
    try {
      const r = await api('dead-letters/replay', { method: 'POST', body: { ids } });
      const parts = [`Replayed ${fmtNum(r.replayed)} of ${fmtNum(r.selected)}`];
      if (r.duplicates) parts.push(`${fmtNum(r.duplicates)} already stored`);
      if (r.failed) parts.push(`${fmtNum(r.failed)} still failing (kept with the new reason)`);
      say(msg, `${parts.join('; ')}.`, false);
      await load();
    } catch (ex) {
      say(msg, ex.message, true);
      sync();
    }
  });
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Dead letters'),
    h('p', { class: 'muted' }, 'Records a source could not turn into an event (the newest 200), with the reason and the record as it came (its first KiB). After a decoder fix or a raised limit, select them and Replay: what decodes now is stored, the others stay with their new reason.'),
    h('div', { class: 'toolbar' }, replay, count), msg, list));

  async function load() {
    let r;
    try {
      r = await api('dead-letters', { params: { limit: 200 } });
    } catch (ex) {
      replay.hidden = true;
      clear(list, closedTo(ex));
      return;
    }
    picked.clear();
    sync();
    const boxes = [];
    const rows = r.dead_letters.map((d, i) => {
      const raw = h('pre', { class: 'raw', 'data-testid': 'dead-raw' }, d.raw);
      const more = d.raw_truncated ? h('p', { class: 'muted' }, `${fmtNum(d.raw_bytes)} bytes in all: only the first KiB is shown.`) : null;
      const box = h('input', { type: 'checkbox', 'aria-label': `Select dead letter ${d.id}`, 'data-testid': 'dead-pick', 'data-id': d.id });
      box.addEventListener('change', () => {
        if (box.checked) picked.add(d.id); else picked.delete(d.id);
        sync();
      });
      boxes.push(box);
      return h('tr', { 'data-dead': i, 'data-id': d.id },
        h('td', {}, box),
        h('td', { class: 'nowrap' }, fmtTime(d.time)), h('td', {}, d.source),
        h('td', { class: 'msg' }, d.file ? h('code', {}, d.file) : h('span', { class: 'muted' }, '—'), d.offset >= 0 && d.file ? h('span', { class: 'muted' }, ` @ ${fmtNum(d.offset)}`) : null),
        h('td', { class: 'msg', 'data-testid': 'dead-reason' }, d.reason),
        h('td', { class: 'msg' }, h('details', {}, h('summary', {}, `${fmtNum(d.raw_bytes)} bytes`), raw, more, copyButton(() => d.raw, 'Copy'))));
    });
    if (!rows.length) {
      clear(list, empty('No dead letters: every record so far became an event.'));
      return;
    }
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select every dead letter shown', 'data-testid': 'dead-pick-all' });
    all.addEventListener('change', () => {
      for (const b of boxes) {
        b.checked = all.checked;
        if (all.checked) picked.add(Number(b.dataset.id)); else picked.delete(Number(b.dataset.id));
      }
      sync();
    });
    const t = table(['', 'Time', 'Source', 'File', 'Reason', 'Record'], rows, 'dead-table');
    const th = t.querySelector('thead th');
    th.append(all);
    clear(list, t);
  }
  load();
}

// ---- sources' health ----

function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i ? `${v.toFixed(1)} ${u[i]}` : `${v} B`;
}

function sourcesTab(body) {
  const tail = h('section', { class: 'card stack', 'data-testid': 'sources-tail' }, h('h2', {}, 'Tailed files'), spinner());
  const sys = h('section', { class: 'card stack', 'data-testid': 'sources-syslog' }, h('h2', {}, 'Syslog listeners'), spinner());
  const agents = h('section', { class: 'card stack', 'data-testid': 'sources-agents' }, h('h2', {}, 'Agents seen (since the hub started)'), spinner());
  const refresh = h('button', { type: 'button', class: 'btn', 'data-testid': 'sources-refresh' }, 'Refresh');
  clear(body, h('div', { class: 'toolbar' }, refresh), tail, sys, agents);
  async function load() {
    let r;
    try {
      r = await api('sources');
    } catch (ex) {
      clear(tail, closedTo(ex));
      sys.hidden = true;
      agents.hidden = true;
      return;
    }
    clear(tail, h('h2', {}, 'Tailed files'), !r.tail ? empty('No folder is tailed (--tail-dir).')
      : [h('p', { class: 'muted' }, 'Folder ', h('code', {}, r.tail.dir), ': each file with the offset the store has committed.'),
        r.tail.files.length ? table(['File', 'Offset', 'Size', 'Behind'], r.tail.files.map((f) => h('tr', { 'data-file': f.path },
          h('td', { class: 'msg' }, h('code', {}, f.path)), h('td', { class: 'num' }, fmtNum(f.offset)),
          h('td', { class: 'num' }, f.size === null ? h('span', { class: 'muted' }, 'gone') : fmtBytes(f.size)),
          h('td', { class: 'num', 'data-testid': 'file-behind' }, f.behind ? fmtBytes(f.behind) : 'up to date'))), 'files-table')
          : empty('No file read yet.')]);
    clear(sys, h('h2', {}, 'Syslog listeners'), r.syslog.length
      ? table(['Protocol', 'Address', 'Received', 'Stored', 'Rejected', 'Dead letters', 'Dropped', 'Truncated'], r.syslog.map((l) => h('tr', { 'data-protocol': l.protocol },
        h('td', {}, l.protocol.toUpperCase()), h('td', {}, h('code', {}, l.address)), h('td', { class: 'num' }, fmtNum(l.received)),
        h('td', { class: 'num' }, fmtNum(l.accepted)), h('td', { class: 'num' }, fmtNum(l.rejected)), h('td', { class: 'num' }, fmtNum(l.dead_letters)),
        h('td', { class: l.dropped ? 'num warn-text' : 'num' }, fmtNum(l.dropped)), h('td', { class: 'num' }, fmtNum(l.truncated)))), 'syslog-table')
      : empty('No syslog listener (--syslog-udp, --syslog-tcp).'));
    clear(agents, h('h2', {}, 'Agents seen (since the hub started)'), r.agents.length
      ? table(['Key', 'Id', 'Events', 'Last event'], r.agents.map((k) => h('tr', { 'data-agent': k.name },
        h('td', {}, k.name), h('td', { class: 'num' }, k.id === null ? h('span', { class: 'muted' }, 'env') : k.id),
        h('td', { class: 'num', 'data-testid': 'agent-events' }, fmtNum(k.events)), h('td', { class: 'nowrap' }, fmtTime(k.last_event)))), 'agents-table')
      : empty('No events from an agent key since the hub started.'));
  }
  refresh.addEventListener('click', load);
  load();
}

// ---- the running configuration ----

function configTab(body) {
  const filter = h('input', { id: 'config-filter', type: 'search', placeholder: 'retention, syslog, SIEM_…', 'data-testid': 'config-filter' });
  const list = h('div', {}, spinner());
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Running configuration'),
    h('p', { class: 'muted' }, 'The options this hub runs with (read-only: flags, SIEM_* variables or the config file). Secrets are masked.'),
    h('div', { class: 'toolbar' }, h('label', { for: 'config-filter' }, 'Find'), filter), list));
  let opts = [];
  function draw() {
    const q = filter.value.trim().toLowerCase();
    const shown = opts.filter((o) => !q || `${o.name || ''} ${o.env || ''}`.toLowerCase().includes(q));
    clear(list, shown.length ? table(['Option', 'Value', ['Default', 'opt-def']], shown.map((o) => {
      const v = o.value === null ? h('span', { class: 'muted' }, 'not set') : typeof o.value === 'boolean' ? (o.value ? 'on' : 'off')
        : o.value === '' ? h('span', { class: 'muted' }, '(empty)') : h('code', {}, o.value);
      const changed = o.value !== null && typeof o.value === 'string' && o.default !== null && o.value !== o.default;
      return h('tr', { 'data-option': o.name || o.env, class: changed ? 'changed' : '' },
        h('td', { class: 'opt-name' }, o.name ? `--${o.name}` : null, o.env ? h('span', { class: 'muted opt-env' }, o.env) : null),
        h('td', { class: 'msg', 'data-testid': 'config-value' }, v, o.secret ? h('span', { class: 'muted' }, ' (secret)') : null),
        h('td', { class: 'muted opt-def' }, o.default === null ? '' : o.default));
    }), 'config-table') : empty('No option matches.'));
  }
  filter.addEventListener('input', draw);
  api('config').then((r) => { opts = r.options; draw(); }).catch((ex) => { filter.disabled = true; clear(list, closedTo(ex)); });
}

// ---- audit log ----

function auditTab(body, ctx) {
  const actor = h('input', { id: 'audit-actor', placeholder: 'admin', value: ctx.params.get('actor') || '', 'data-testid': 'audit-actor' });
  const action = h('input', { id: 'audit-action', placeholder: 'user or user.add', value: ctx.params.get('action') || '', 'data-testid': 'audit-action' });
  const list = h('div', {}, spinner());
  const form = h('form', { class: 'toolbar', role: 'search', 'data-testid': 'audit-form' },
    h('label', { for: 'audit-actor' }, 'Actor'), actor, h('label', { for: 'audit-action' }, 'Action'), action,
    h('button', { type: 'submit', class: 'btn primary' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ tab: 'audit' });
    if (actor.value.trim()) p.set('actor', actor.value.trim());
    if (action.value.trim()) p.set('action', action.value.trim());
    ctx.setQuery(p);
    load();
  });
  clear(body, h('section', { class: 'card stack' }, h('h2', {}, 'Audit log'), form, list));

  async function load() {
    clear(list, spinner());
    try {
      const r = await api('audit', { params: { actor: actor.value.trim(), action: action.value.trim(), limit: 500 } });
      clear(list, r.audit.length
        ? table(['Time', 'Actor', 'Client', 'Action', 'Object', 'Detail'], r.audit.map((a) => h('tr', { 'data-audit-id': a.id },
          h('td', { class: 'nowrap' }, fmtTime(a.time)), h('td', {}, a.actor || ''), h('td', { class: 'muted' }, a.client || ''),
          h('td', { class: 'nowrap' }, a.action), h('td', {}, a.object || ''), h('td', { class: 'msg' }, a.detail || ''))), 'audit-table')
        : empty('No entry matches.'));
    } catch (ex) {
      form.hidden = true;
      clear(list, closedTo(ex));
    }
  }
  load();
}

export function mount(root, ctx) {
  const tab = TABS.some(([id]) => id === ctx.params.get('tab')) ? ctx.params.get('tab') : 'keys';
  const body = h('div', { class: 'stack', 'data-testid': 'settings-body' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' }, TABS.map(([id, label]) =>
    h('button', { type: 'button', role: 'tab', class: id === tab ? 'tab active' : 'tab', 'aria-selected': id === tab ? 'true' : 'false',
      'data-testid': `tab-${id}`, onclick: () => ctx.navigate('settings', new URLSearchParams({ tab: id })) }, label)));
  clear(root, h('div', { class: 'toolbar' }, h('h1', {}, 'Settings')), tabs, body);
  const me = user();
  if (tab === 'keys') keysTab(body);
  else if (tab === 'users') usersTab(body, me);
  else if (tab === 'channels') channelsTab(body);
  else if (tab === 'config') configTab(body);
  else if (tab === 'sources') sourcesTab(body);
  else if (tab === 'dead') deadTab(body);
  else auditTab(body, ctx);
  return null;
}
