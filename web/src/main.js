// main.js — the dashboard's shell: theme, navigation between pages (URLs under ui/, relative
// to <base href>), the login gate, and logout.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, clearSession, setSession, setUnauthorizedHandler, token, user } from './api.js';
import { h, clear } from './dom.js';
import * as overview from './pages/overview.js';
import * as explorer from './pages/explorer.js';
import * as alerts from './pages/alerts.js';
import * as rules from './pages/rules.js';
import * as dashboards from './pages/dashboards.js';
import * as settings from './pages/settings.js';

const PAGES = [
  ['overview', 'Overview', overview],
  ['explorer', 'Explorer', explorer],
  ['alerts', 'Alerts', alerts],
  ['rules', 'Rules', rules],
  ['dashboards', 'Dashboards', dashboards],
  ['settings', 'Settings', settings],
];

let unmount = null;
let loginMessage = '';
let returnTo = '';

// ---- theme ----

function applyTheme(t) {
  document.documentElement.dataset.theme = t;
  localStorage.setItem('minisiem.theme', t);
}
function initialTheme() {
  const saved = localStorage.getItem('minisiem.theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

// ---- routing ----

function appRoot() { return new URL('.', document.baseURI).pathname; }

function route() {
  const root = appRoot();
  const p = location.pathname.startsWith(root) ? location.pathname.slice(root.length) : '';
  const m = /^ui\/([a-z-]+)/.exec(p);
  return m ? m[1] : 'overview';
}

export function href(page, params) {
  const q = params && String(params) ? `?${params}` : '';
  return `ui/${page}${q}`;
}

export function navigate(page, params, { replace = false } = {}) {
  const u = href(page, params);
  if (replace) history.replaceState(null, '', u);
  else history.pushState(null, '', u);
  render();
}

// Pages change their own query string (filters) without a new render.
export function setQuery(params, { push = false } = {}) {
  const u = href(route(), params);
  if (push) history.pushState(null, '', u);
  else history.replaceState(null, '', u);
}

function goLogin(message) {
  const r = route();
  if (r !== 'login') returnTo = location.pathname.slice(appRoot().length) + location.search;
  loginMessage = message || '';
  navigate('login', null, { replace: true });
}

// ---- shell ----

function nav(current) {
  const theme = document.documentElement.dataset.theme;
  const themeBtn = h('button', { type: 'button', class: 'btn ghost', 'data-testid': 'theme' },
    theme === 'dark' ? 'Light theme' : 'Dark theme');
  themeBtn.addEventListener('click', () => {
    applyTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
    render();
  });
  const logout = h('button', { type: 'button', class: 'btn ghost', 'data-testid': 'logout' }, 'Log out');
  // The session ends here at once (the page and its requests and streams stop), then the hub
  // revokes the token: an answer that arrives meanwhile cannot bring the user back.
  logout.addEventListener('click', async () => {
    const t = token();
    clearSession();
    returnTo = '';
    loginMessage = 'You have logged out.';
    navigate('login');
    try { await api('auth/logout', { method: 'POST', bearer: t }); } catch { /* the token is dropped anyway */ }
  });
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: href('overview') }, 'minisiem'),
    h('nav', { 'aria-label': 'Pages' }, PAGES.map(([id, name]) =>
      h('a', { href: href(id), class: id === current ? 'active' : '', 'aria-current': id === current ? 'page' : null,
        'data-testid': `nav-${id}` }, name))),
    h('span', { class: 'who' }, h('span', { class: 'muted' }, user()), themeBtn, logout));
}

function loginPage(root) {
  const name = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', placeholder: 'admin' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: loginMessage ? 'notice' : 'hidden', role: 'status', 'data-testid': 'login-message' }, loginMessage);
  const err = h('p', { class: 'error hidden', role: 'alert', 'data-testid': 'login-error' });
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Log in');
  const form = h('form', { class: 'login card', 'data-testid': 'login-form' },
    h('h1', {}, 'minisiem'), msg,
    h('label', { for: 'login-user' }, 'User name ', h('span', { class: 'muted' }, '(empty for admin)')), name,
    h('label', { for: 'login-pass' }, 'Password'), pass, err, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    btn.disabled = true;
    err.className = 'error hidden';
    const body = { password: pass.value };
    if (name.value.trim()) body.username = name.value.trim();
    try {
      const r = await api('auth/login', { method: 'POST', body, auth: false });
      setSession(r.access_token, body.username || 'admin');
      loginMessage = '';
      const back = returnTo && !returnTo.startsWith('ui/login') ? returnTo : href('overview');
      returnTo = '';
      history.replaceState(null, '', back);
      render();
    } catch (ex) {
      err.textContent = ex.status === 401 ? 'Wrong user name or password.'
        : ex.status === 429 ? 'Too many failed attempts: wait a minute and try again.' : ex.message;
      err.className = 'error';
      btn.disabled = false;
      pass.select();
    }
  });
  clear(root, h('main', { class: 'login-wrap' }, form));
  (name.value ? pass : name).focus();
  return null;
}

function render() {
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  const root = document.getElementById('app');
  const r = route();
  if (r === 'login' || !token()) {
    if (r !== 'login') { goLogin(''); return; }
    document.title = 'Log in · minisiem';
    unmount = loginPage(root);
    return;
  }
  const page = PAGES.find((p) => p[0] === r) || PAGES[0];
  document.title = `${page[1]} · minisiem`;
  const main = h('main', { id: 'page', 'data-page': page[0] });
  clear(root, nav(page[0]), main);
  unmount = page[2].mount(main, { navigate, setQuery, href, params: new URLSearchParams(location.search) }) || null;
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const u = new URL(a.getAttribute('href'), document.baseURI);
  if (u.origin !== location.origin || !u.pathname.startsWith(appRoot())) return;
  e.preventDefault();
  history.pushState(null, '', u.pathname + u.search);
  render();
});
window.addEventListener('popstate', render);
setUnauthorizedHandler((msg) => goLogin(msg));
applyTheme(initialTheme());
render();
