// run.mjs — the dashboard's browser tests (see tests/web/run.sh): seed a fresh hub with known
// events, then log in, check every page against what the API answers, page through the
// explorer, save a dashboard, log out; assert no console error and no failed request on the
// way. The hub enriches events (GeoIP and ASN from the MaxMind test databases of the shared
// data, a threat-intel list of one address): the overview's countries and intel panels, the
// explorer's country and tags. The seed raises alerts with the hub's built-in rules (accounts
// created, a brute force, and, from events two days old on arrival, an alert of imported
// history): the alerts page, the overview's alerts card and the rules page are checked against
// the API. Screenshots of each page go to --shots (docs/screenshots/ when refreshing the docs).
//
//   node tests/web/run.mjs --hub build/rel/minisiem --results build/results.txt
//        [--shots DIR] [-k NAME]
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { API_KEY as WEB_API_KEY, JWT_SECRET as WEB_JWT_SECRET } from './harness.mjs';
import {
  DATA, Hub, Runner, Skip, assert, assertEq, chromiumPath, log, makeJwt, openPage, playwright, request, ROOT,
} from './harness.mjs';

const SUITE_DEADLINE_MS = 300000;

function args() {
  const a = { hub: null, results: null, shots: path.join(ROOT, 'build', 'web', 'screenshots'), k: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--hub') a.hub = v[++i];
    else if (v[i] === '--results') a.results = v[++i];
    else if (v[i] === '--shots') a.shots = path.resolve(v[++i]);
    else if (v[i] === '-k') a.k = v[++i];
  }
  if (!a.hub || !a.results) {
    process.stderr.write('usage: node tests/web/run.mjs --hub BIN --results FILE [--shots DIR] [-k NAME]\n');
    process.exit(2);
  }
  return a;
}

// ---- the seeded events (all within the last hour) ----

export const ATTACKERS = [['198.51.100.7', 40], ['198.51.100.23', 25], ['203.0.113.99', 12], ['2001:db8::66', 6]];
export const DOMAINS = [['ads.doubleclick.example', 30], ['telemetry.vendor.example', 18], ['tracker.example.org', 7]];
export const PAGE_EVENTS = 1000;
const ATTACKER3_PROBES = 4;
const ATTACKER3_PAM = 3;
export const RAW_MARKER = 'webtestrawmarker7731';
const RAW_LINE = `<86>Nov 21 08:00:00 bastion sshd[4242]: Accepted publickey for deploy from 192.0.2.44 port 50022 ssh2 ${RAW_MARKER}`;

function seed(now) {
  const evs = [];
  const at = (min, sec = 0) => new Date(now - min * 60000 - sec * 1000 - 5000).toISOString();
  const users = ['root', 'admin', 'oracle'];
  const hosts = ['web1', 'db1', 'dc1'];
  for (const [ip, n] of ATTACKERS) {
    for (let i = 0; i < n; i++) {
      const user = users[i % 3];
      evs.push({ event_id: crypto.randomUUID(), timestamp: at(i % 50, i), os_type: i % 2 ? 'LINUX' : 'WINDOWS',
        event_type: 'LOGIN_FAIL', severity: 3 + (i % 2), source_ip: ip, user, source_host: hosts[i % 3],
        message: `Failed password for ${user} from ${ip} port ${1000 + i} ssh2`,
        raw_message: `<38>Nov 21 08:00:00 ${hosts[i % 3]} sshd[${900 + i}]: Failed password for ${user} from ${ip} port ${1000 + i} ssh2` });
    }
  }
  for (let i = 0; i < 5; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: at(i * 7, 3), os_type: 'NETWORK', event_type: 'FIREWALL_BLOCK',
      severity: 3, source_ip: '198.51.100.23', source_host: 'fw1', message: `blocked TCP 198.51.100.23:4444 -> 10.0.0.5:22` });
  }
  // The third attacker also scans (SSH_PROBE) and fails in PAM's lines on hosts whose sshd
  // lines are not sent (PAM_AUTH_FAIL): both count among its attacks. Fewer than the rules'
  // thresholds, so that they raise nothing.
  for (let i = 0; i < ATTACKER3_PROBES; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: at(i * 3, 5), os_type: 'LINUX', event_type: 'SSH_PROBE',
      severity: 2, source_ip: '203.0.113.99', source_host: 'web1', app: 'sshd', data: { probe: 'no_identification' },
      message: `Did not receive identification string from 203.0.113.99 port ${40000 + i}` });
  }
  for (let i = 0; i < ATTACKER3_PAM; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: at(i * 4, 9), os_type: 'LINUX', event_type: 'PAM_AUTH_FAIL',
      severity: 2, source_ip: '203.0.113.99', user: 'root', source_host: 'db1', app: 'sshd',
      message: 'pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.99  user=root' });
  }
  for (const [domain, n] of DOMAINS) {
    for (let i = 0; i < n; i++) {
      const client = `192.168.1.${10 + (i % 5)}`;
      evs.push({ event_id: crypto.randomUUID(), timestamp: at(i % 55, 2 * i), os_type: 'PIHOLE', event_type: 'DNS_BLOCK',
        severity: 2, source_ip: client, source_host: 'pihole', data: { domain, type: 'A', status: 'GRAVITY', reply: 'BLOCKED' },
        message: `gravity blocked ${domain} for ${client}` });
    }
  }
  for (let i = 0; i < 20; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: at(i * 2, 11), os_type: 'LINUX', event_type: 'SUDO_ESCALATION',
      severity: i % 4 === 0 ? 5 : 4, user: 'deploy', source_host: hosts[i % 3], message: 'deploy : TTY=pts/0 ; USER=root ; COMMAND=/bin/bash',
      data: { tty: 'pts/0', target_user: 'root', command: '/bin/bash' } });
  }
  for (let i = 0; i < PAGE_EVENTS; i++) {
    // Timestamps repeat (every 7th second of every minute), so the cursor must break ties.
    evs.push({ event_id: crypto.randomUUID(), timestamp: at(i % 55, i % 7), app: 'pager', event_type: 'PAGE_TEST',
      severity: 1 + (i % 2), level: i % 2 ? 'INFO' : 'DEBUG', source_host: `app${i % 4}`, message: `page test ${i}` });
  }
  evs.push({ event_id: crypto.randomUUID(), timestamp: at(1, 1), os_type: 'LINUX', event_type: 'LOGIN_SUCCESS', severity: 1,
    source_ip: '192.0.2.44', user: 'deploy', source_host: 'bastion', message: `Accepted publickey for deploy ${RAW_MARKER}`,
    raw_message: RAW_LINE, data: { method: 'publickey', port: 50022 } });
  return evs;
}

// Events that raise alerts with the built-in rules: an account created on each of two hosts
// (rules/account_creation.yml), a burst of failed logins from one address within a few
// minutes (bruteforce.yml), and audit logs cleared two days ago (audit_log_cleared.yml), which
// arrive now: an alert of imported history (backfill), apart from the live ones.
export const NEW_ACCOUNTS = [['nas', 'svc-backup'], ['web1', 'svc-report']];
// From an address the GeoIP test database places (US, Milton), so that the summary names its
// country; fewer than the second attacker's 30, so the top IPs keep their order.
export const BURST = ['216.160.83.56', 20];
export const OLD_HOST = 'legacy-db';
export const OLD_EVENTS = 3;
const RULE_ACCOUNT = '4e8c8fff-38fb-4c45-b629-05bfb04e5614';
const RULE_BRUTE = '22b465fd-75c8-42f1-9395-8d61d9daf41a';
const RULE_AUDIT = 'b9c0c47b-b371-4b16-952c-f7326af02b5b';

function seedAlerts(now) {
  const evs = [];
  for (const [host, user] of NEW_ACCOUNTS) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: new Date(now - 6 * 60000).toISOString(), os_type: 'LINUX',
      event_type: 'ACCOUNT_CREATE', severity: 3, user, source_host: host, message: `new user: name=${user}, UID=1007, GID=1007` });
  }
  const [ip, n] = BURST;
  for (let i = 0; i < n; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: new Date(now - 4 * 60000 + i * 9000).toISOString(), os_type: 'LINUX',
      event_type: 'LOGIN_FAIL', severity: 3, source_ip: ip, user: 'root', source_host: 'bastion',
      message: `Failed password for root from ${ip} port ${40000 + i} ssh2` });
  }
  for (let i = 0; i < OLD_EVENTS; i++) {
    evs.push({ event_id: crypto.randomUUID(), timestamp: new Date(now - 2 * 86400e3 + i * 60000).toISOString(), os_type: 'LINUX',
      event_type: 'LOG_TAMPERING', severity: 5, user: 'root', source_host: OLD_HOST, message: 'audit log /var/log/audit/audit.log truncated' });
  }
  return evs;
}

// The seed's alerts are written by the hub's alerts thread a moment after the ingest answers:
// wait until GET /alerts lists some and stops changing (nothing on a hub without alerts).
async function alertsSettled(hub, timeoutMs = 15000) {
  if ((await hub.get('/alerts')).status !== 200) return;
  const end = Date.now() + timeoutMs;
  let prev = null;
  while (Date.now() < end) {
    const all = (await hub.getJson('/alerts', { limit: 1000 })).alerts;
    const cur = JSON.stringify(all.map((x) => [x.id, x.version]));
    if (all.length && cur === prev) return;
    prev = cur;
    await new Promise((r) => setTimeout(r, 300));
  }
}

// The hub holds at most 4 alert streams per user and notices one whose page is gone at its
// next keepalive (5 s for the alerts page): a test that opens the alerts page again and again
// may be told 429 for a moment, and the page reconnects.
function streamSlots(w) { w.allow(/^429 GET .*\/alerts\/stream/); }

// What an alert's counts line says (as pages/alerts.js writes it).
function countsText(a) {
  const n = a.events_total;
  return [`${n.toLocaleString('en-US')} ${n === 1 ? 'event' : 'events'}`]
    .concat(a.count > 1 ? [`fired ${a.count.toLocaleString('en-US')} times`] : []).join(' · ');
}

// The cards of the alerts page: [id, headline, counts line, backfill, [[field, value]...]].
function alertCards(page) {
  return page.$$eval('[data-testid=alerts-list] [data-testid=alert]', (cards) => cards.map((c) => [
    c.dataset.id, c.querySelector('[data-testid=alert-summary]').textContent,
    c.querySelector('[data-testid=alert-counts]').textContent, c.dataset.backfill === 'true',
    [...c.querySelectorAll('[data-testid=alert-group] .chip')].map((x) => [x.dataset.field, x.dataset.value])]));
}

// "source_host=nas,user=svc-backup" -> [['source_host', 'nas'], ['user', 'svc-backup']]
const groupPairs = (k) => (k ? k.split(/,(?=[A-Za-z_][\w.]*=)/).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]) : []);

// Public addresses the MaxMind test databases know: [address, country, city, events]. The
// last is on the hub's threat-intel list (drop.txt), so its events are tagged intel:...
export const GEO = [['81.2.69.142', 'GB', 'London', 9], ['2.125.160.216', 'GB', 'Boxford', 5],
  ['89.160.20.112', 'SE', 'Linköping', 7]];
export const INTEL_IP = '89.160.20.112';
export const AS_LABEL = 'AS29518 Bredband2 AB'; // of 89.160.20.112 in GeoLite2-ASN-Test
const GEO_DBS = ['GeoIP2-City-Test.mmdb', 'GeoLite2-ASN-Test.mmdb'];

// Firewall drops from those addresses, the newest events of the seed (within 9 minutes).
function seedGeo(now) {
  const evs = [];
  for (const [ip, , , n] of GEO) {
    for (let i = 0; i < n; i++) {
      evs.push({ event_id: crypto.randomUUID(), timestamp: new Date(now - i * 60000 - 2000 - n * 100).toISOString(),
        os_type: 'LINUX', event_type: 'FIREWALL_BLOCK', severity: 3, source_ip: ip, source_host: 'gw1',
        message: `iptables DROP IN=eth0 SRC=${ip} DST=10.0.0.5 PROTO=TCP DPT=${[22, 23, 3389][i % 3]}` });
    }
  }
  return evs;
}

// How many events were seeded from an address or a country.
const count = (ip) => GEO.filter((g) => g[0] === ip || g[1] === ip).reduce((s, g) => s + g[3], 0);

// The hub's enrichment options, or why the enrichment tests are skipped.
function enrichment(dir) {
  const db = path.join(DATA, 'maxmind', 'test-data');
  const missing = GEO_DBS.filter((f) => !fs.existsSync(path.join(db, f)));
  if (missing.length) return { args: [], why: `no ${missing.join(', ')} in ${db} (SIEM_TEST_DATA names the shared data)` };
  const intel = path.join(dir, 'intel');
  fs.mkdirSync(intel, { recursive: true });
  fs.writeFileSync(path.join(intel, 'drop.txt'), `# the web tests' list\n${INTEL_IP}\n`);
  return { args: ['--geoip-db', path.join(db, GEO_DBS[0]), '--asn-db', path.join(db, GEO_DBS[1]), '--intel-dir', intel], why: null };
}

// A country's flag: its two letters as regional indicators.
export function flag(cc) { return String.fromCodePoint(...[...cc].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65)); }

// ---- helpers on pages ----

// Every login lands on the overview, whose alert count holds an alert stream (see streamSlots).
async function login(w, hub) {
  const { page } = w;
  streamSlots(w);
  await page.goto(hub.base());
  await page.waitForSelector('[data-testid=login-form]');
  await page.fill('#login-pass', hub.password);
  await page.click('[data-testid=login-form] button[type=submit]');
  await page.waitForSelector('main#page[data-page=overview]');
}

function clean(w, what) {
  assert(w.problems.length === 0, `${what}: console errors or failed requests:\n  ${w.problems.join('\n  ')}`);
}

async function shot(w, dir, name, opts = {}) {
  fs.mkdirSync(dir, { recursive: true });
  await w.page.screenshot({ path: path.join(dir, `${name}.png`), ...opts });
}

function attackTypes(types) {
  const t = new Set(['LOGIN_FAIL', 'PAM_AUTH_FAIL', 'SSH_PROBE']);
  for (const v of types) if (/BLOCK/.test(v) && !/^DNS/.test(v)) t.add(v);
  return [...t].sort();
}

// Wait for the overview to have drawn all of its parts.
async function overviewReady(page) {
  await page.waitForSelector('[data-testid=metric-threats] li, [data-testid=metric-threats] .empty');
  await page.waitForSelector('[data-testid=chart-timeseries] .uplot canvas');
  await page.waitForSelector('[data-testid=chart-top-ips] li.bar');
  await page.waitForSelector('[data-testid=top-countries] li.bar, [data-testid=top-countries] .empty');
  await page.waitForSelector('[data-testid=intel-events] .intel-list, [data-testid=intel-events] .empty');
  await page.waitForSelector('[data-testid=overview-table] tbody tr');
  await page.waitForSelector('[data-testid=updated]:has-text("Updated")');
}

// The overview from its top down to the countries and intel panels (below the fold at
// 1280×800, so the shot is taller than the window).
async function overviewShot(w, dir, name) {
  const { page } = w;
  const vp = page.viewportSize();
  const bottom = await page.$eval('[data-testid=intel-events]', (el) => {
    const row = el.closest('section').getBoundingClientRect();
    return row.bottom + window.scrollY;
  });
  await shot(w, dir, name, { fullPage: true, clip: { x: 0, y: 0, width: vp.width, height: Math.max(vp.height, Math.ceil(bottom + 16)) } });
}

// ---- the tests ----

async function main() {
  const a = args();
  const runner = new Runner();
  const hubs = [];
  let browser = null;
  const deadline = setTimeout(() => {
    log(`web: suite over ${SUITE_DEADLINE_MS / 1000} s: stopping`);
    for (const h of hubs) h.kill();
    finish(runner, a, 'deadline');
  }, SUITE_DEADLINE_MS);

  const exe = chromiumPath();
  let hub = null;
  let setupError = null;
  let enrich = { args: [], why: 'not set up' };
  try {
    hub = new Hub(a.hub);
    hubs.push(hub);
    enrich = enrichment(hub.dir);
    hub.args = enrich.args;
    try {
      await hub.start();
    } catch (e) {
      // A hub from before enrichment refuses the options: the other tests still run.
      if (!enrich.args.length || !/unknown option '--(geoip-db|asn-db|intel-dir)'/.test(e.message)) throw e;
      hub.cleanup();
      hubs.pop();
      enrich = { args: [], why: 'this hub has no --geoip-db, --asn-db, --intel-dir yet' };
      hub = new Hub(a.hub);
      hubs.push(hub);
      await hub.start();
    }
    const now = Date.now();
    await hub.ingest(seed(now).concat(seedGeo(now), seedAlerts(now)));
    await alertsSettled(hub);
    if (exe) {
      // A persistent context is how Playwright takes a fresh --user-data-dir of our own.
      browser = await playwright().chromium.launchPersistentContext(fs.mkdtempSync(path.join(hub.dir, 'chromium-')), {
        executablePath: exe, headless: true, colorScheme: 'light', serviceWorkers: 'block',
        viewport: { width: 1280, height: 800 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
          '--disable-sync', '--no-first-run'],
      });
    }
  } catch (e) {
    setupError = e;
  }
  const needBrowser = () => {
    if (setupError) throw setupError;
    if (!browser) throw new Skip('no /usr/bin/chromium (apt-get install chromium)');
  };
  const needEnrich = () => {
    needBrowser();
    if (enrich.why) throw new Skip(enrich.why);
  };

  runner.test('static: page and assets carry cache, gzip and security headers', async () => {
    if (setupError) throw setupError;
    const idx = await request(hub.port, 'GET', '/');
    assertEq(idx.status, 200, 'GET /');
    assert(/^text\/html/.test(idx.headers['content-type']), 'html type');
    const csp = idx.headers['content-security-policy'] || '';
    for (const d of ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]) assert(csp.includes(d), `CSP has ${d}: ${csp}`);
    assert(!/unsafe-inline|unsafe-eval/.test(csp), 'CSP allows no inline script');
    assertEq(idx.headers['x-frame-options'], 'DENY', 'X-Frame-Options');
    assertEq(idx.headers['referrer-policy'], 'no-referrer', 'Referrer-Policy');
    assertEq(idx.headers['cache-control'], 'no-cache', 'index.html is revalidated');
    const html = idx.body.toString();
    assert(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script');
    assert(!/\sstyle=/.test(html), 'no inline style');
    assert(/<base href="\.\/">/.test(html), 'base ./ at /');
    const ui = await request(hub.port, 'GET', '/ui/explorer');
    assertEq(ui.status, 200, 'GET /ui/explorer');
    assert(/<base href="\.\.\/">/.test(ui.body.toString()), 'base ../ under /ui/');
    const js = /src="(assets\/[^"]+\.js)"/.exec(html)[1];
    const plain = await request(hub.port, 'GET', `/${js}`);
    assertEq(plain.status, 200, 'asset');
    assert(!plain.headers['content-encoding'], 'no gzip unless asked');
    assertEq(plain.headers['cache-control'], 'public, max-age=31536000, immutable', 'hashed asset cached for a year');
    const gz = await request(hub.port, 'GET', `/${js}`, { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    assertEq(gz.headers['content-encoding'], 'gzip', 'gzip when accepted');
    assertEq(gz.headers.vary, 'Accept-Encoding', 'Vary');
    assert(gz.body.length < plain.body.length, 'compressed is smaller');
    assert(zlib.gunzipSync(gz.body).equals(plain.body), 'gzip body is the file');
    const refused = await request(hub.port, 'GET', `/${js}`, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
    assert(!refused.headers['content-encoding'], 'gzip;q=0 refuses gzip');
    const again = await request(hub.port, 'GET', '/', { headers: { 'If-None-Match': idx.headers.etag } });
    assertEq(again.status, 304, 'If-None-Match');
    const missing = await request(hub.port, 'GET', '/assets/nothing.js');
    assertEq(missing.status, 404, 'unknown asset');
    const data = await request(hub.port, 'GET', '/stats/summary');
    assertEq(data.status, 401, 'data needs a token');
  });

  runner.test('login, and the overview shows what the API answers', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await page.goto(hub.base());
      await page.waitForSelector('[data-testid=login-form]');
      await shot(w, a.shots, 'login');
      await login(w, hub);
      await overviewReady(page);
      const sum = await hub.getJson('/stats/summary');
      const types = (await hub.getJson('/event-types')).values.map((v) => v.value);
      const top = await hub.getJson('/stats/top', { field: 'source_ip', n: 10, event_type: attackTypes(types).join(',') });
      const ts = await hub.getJson('/stats/timeseries', { interval: '1m', by: 'os_type' });
      const ev = await hub.getJson('/events', { limit: 50, from: sum.from, to: sum.to });

      const alertsText = await page.textContent('[data-testid=metric-alerts] .big');
      assertEq(alertsText.trim(), sum.alerts === null ? '—' : sum.alerts.toLocaleString('en-US'), 'alerts metric');
      const note = await page.$('[data-testid=metric-alerts] [data-testid=alerts-backfill]');
      if (sum.alerts_backfill) {
        assertEq(await note.getAttribute('data-value'), String(sum.alerts_backfill), 'imported-history alerts = alerts_backfill');
        assertEq(await note.textContent(), `+${sum.alerts_backfill.toLocaleString('en-US')} from imported history`, 'its text');
      } else {
        assert(!note, `no imported-history note when alerts_backfill is ${sum.alerts_backfill}`);
      }
      if (sum.alerts_backfill !== undefined) assert(sum.alerts_backfill >= 1, 'the seeded imported history raised an alert');
      const threats = await page.$$eval('[data-testid=metric-threats] li', (li) => li.map((x) =>
        [x.dataset.os, Number(x.querySelector('strong').textContent.replace(/,/g, ''))]));
      assertEq(threats, sum.threats_by_os.map((t) => [t.os_type, t.count]), 'threats by OS');
      assert(threats.length >= 3, 'threats on several OS');
      const dom = await page.getAttribute('[data-testid=metric-domain] .big', 'data-value');
      assertEq(dom, sum.top_blocked_domain.domain, 'most blocked domain');
      assertEq(dom, DOMAINS[0][0], 'most blocked domain (seeded)');
      const domCount = await page.getAttribute('[data-testid=metric-domain] [data-count]', 'data-count');
      assertEq(Number(domCount), DOMAINS[0][1], 'its count');

      const bars = await page.$$eval('[data-testid=chart-top-ips] li.bar', (li) => li.map((x) =>
        [x.querySelector('.bar-label').textContent, Number(x.querySelector('.bar-count').textContent.replace(/,/g, ''))]));
      assertEq(bars, top.values.map((v) => [v.value, v.count]), 'top attacking IPs');
      assertEq(bars[0], ['198.51.100.7', 40], 'first attacker');
      assertEq(bars[1], ['198.51.100.23', 30], 'second: 25 failed logins + 5 firewall blocks');
      assert(bars.some((b) => b[0] === '203.0.113.99' && b[1] === ATTACKERS[2][1] + ATTACKER3_PROBES + ATTACKER3_PAM),
        `203.0.113.99: 12 failed logins + 4 SSH probes + 3 PAM failures, got ${JSON.stringify(bars)}`);
      const label = await page.textContent('[data-testid=chart-top-ips] p');
      for (const t of ['LOGIN_FAIL', 'PAM_AUTH_FAIL', 'SSH_PROBE', 'FIREWALL_BLOCK']) assert(label.includes(t), `the label names ${t}: ${label}`);
      const legend = await page.$$eval('[data-testid=chart-timeseries] .u-legend .u-series .u-label', (l) => l.map((x) => x.textContent));
      assertEq(legend.slice(1).sort(), ts.series.map((s) => s.key).sort(), 'a line per OS');

      const ids = await page.$$eval('[data-testid=overview-table] tbody tr', (r) => r.map((x) => x.dataset.id));
      assertEq(ids, ev.events.map((e) => e.event_id), 'latest events table');
      clean(w, 'overview');
      await overviewShot(w, a.shots, 'overview');
    } finally {
      await w.close();
    }
  });

  runner.test('a filter narrows the overview table', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await overviewReady(page);
      const before = await page.$$eval('[data-testid=overview-table] tbody tr', (r) => r.length);
      assertEq(before, 50, 'rows before filtering');
      await page.selectOption('[data-testid=filter-os]', 'NETWORK');
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('[data-testid=overview-table] tbody tr')];
        return rows.length > 0 && rows.length < 50 && rows.every((r) => r.children[2].textContent === 'NETWORK');
      });
      const rows = await page.$$eval('[data-testid=overview-table] tbody tr', (r) => r.map((x) => x.children[3].textContent));
      assertEq(rows, Array(5).fill('FIREWALL_BLOCK'), 'the 5 NETWORK events');
      await page.selectOption('[data-testid=filter-severity]', '5');
      await page.waitForSelector('[data-testid=overview-table] .empty');
      assert(page.url().includes('os_type=NETWORK') && page.url().includes('severity=5'), `filters in the URL: ${page.url()}`);
      clean(w, 'filters');
    } finally {
      await w.close();
    }
  });

  runner.test('the explorer pages through 1000 events without gaps or repeats', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      const counts = []; // the count parameter of each GET /events
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname.endsWith('/events')) counts.push(u.searchParams.get('count'));
      });
      await page.goto(`${hub.base()}ui/explorer?event_type=PAGE_TEST&range=24h`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      const header = `${PAGE_EVENTS.toLocaleString('en-US')} events`;
      assertEq(await page.textContent('[data-testid=result-total]'), header, 'the header counts every page');
      for (let i = 0; i < 20; i++) {
        const more = await page.isVisible('[data-testid=load-more]');
        if (!more) break;
        const n = await page.$$eval('[data-testid=results] tbody tr', (r) => r.length);
        await page.click('[data-testid=load-more]');
        await page.waitForFunction((k) => document.querySelectorAll('[data-testid=results] tbody tr').length > k, n);
      }
      const ids = await page.$$eval('[data-testid=results] tbody tr', (r) => r.map((x) => x.dataset.id));
      const api = (await hub.getJson('/events', { event_type: 'PAGE_TEST', limit: 1000 })).events.map((e) => e.event_id);
      assertEq(ids.length, PAGE_EVENTS, 'rows after loading every page');
      assertEq(new Set(ids).size, PAGE_EVENTS, 'no repeats');
      assertEq(ids, api, 'same events in the same order as one API page of 1000');
      assert(!(await page.isVisible('[data-testid=load-more]')), 'no more pages');
      assertEq(await page.textContent('[data-testid=result-total]'), header, 'the header after every page');
      assert(counts.length > 1 && counts[0] === 'true' && counts.slice(1).every((c) => c === null),
        `count=true with the first page only: ${JSON.stringify(counts)}`);
      clean(w, 'explorer');
    } finally {
      await w.close();
    }
  });

  runner.test('opening an event shows its raw line; clicking a value filters on it', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.goto(`${hub.base()}ui/explorer?q=${RAW_MARKER}&range=24h`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      assertEq(await page.$$eval('[data-testid=results] tbody tr', (r) => r.length), 1, 'one match');
      assertEq(await page.textContent('[data-testid=result-total]'), '1 event', 'the header of one match');
      await page.click('[data-testid=open-event]');
      await page.waitForSelector('[data-testid=event-raw]');
      assertEq((await page.textContent('[data-testid=event-raw]')).trim(), RAW_LINE, 'raw line');
      const data = JSON.parse(await page.textContent('[data-testid=event-data]'));
      assertEq(data, { method: 'publickey', port: 50022 }, 'data, pretty-printed JSON');
      assert(page.url().includes('event='), 'the open event is in the URL');
      if (enrich.why) await shot(w, a.shots, 'explorer-event'); // else of an enriched event, below
      await page.click('[data-testid=drawer] dd[data-field=source_host] button');
      await page.waitForFunction(() => document.querySelector('[data-testid=f-source_host]').value === 'bastion');
      await page.waitForSelector('[data-testid=drawer]', { state: 'hidden' });
      assert(page.url().includes('source_host=bastion'), `filter in the URL: ${page.url()}`);
      await page.goto(`${hub.base()}ui/explorer?range=24h&event_type=LOGIN_FAIL`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      if (enrich.why) await shot(w, a.shots, 'explorer');
      clean(w, 'event drawer');
    } finally {
      await w.close();
    }
  });

  runner.test('overview: top countries and intel panels open the explorer on them', async () => {
    needEnrich();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await overviewReady(page);
      const sum = await hub.getJson('/stats/summary');
      const r = { from: sum.from, to: sum.to };
      const top = await hub.getJson('/stats/top', { field: 'country', n: 10, ...r });
      const bars = await page.$$eval('[data-testid=top-countries] li.bar', (li) => li.map((x) => [x.dataset.value,
        x.querySelector('.bar-label').textContent, Number(x.querySelector('.bar-count').textContent.replace(/,/g, ''))]));
      assertEq(bars.map((b) => [b[0], b[2]]), top.values.map((v) => [v.value, v.count]), 'top countries = GET /stats/top');
      assertEq(top.values.filter((v) => v.value === 'GB' || v.value === 'SE').map((v) => [v.value, v.count]),
        [['GB', count('GB')], ['SE', count('SE')]], 'seeded countries');
      for (const [cc, label] of bars.map((b) => [b[0], b[1]])) assertEq(label, `${flag(cc)}${cc}`, 'flag and code');

      const intel = await hub.getJson('/events', { tag: 'intel:*', count: 'true', limit: 5, ...r });
      assertEq(intel.total, count(INTEL_IP), 'intel-listed events (API)');
      assertEq(await page.getAttribute('[data-testid=intel-count]', 'data-value'), String(intel.total), 'intel count');
      assertEq((await page.textContent('[data-testid=intel-count]')).trim(), String(intel.total), 'intel count text');
      const newest = await page.$$eval('[data-testid=intel-events] .intel-list li', (li) => li.map((x) =>
        [x.dataset.id, x.querySelector('.ip').textContent, [...x.querySelectorAll('.chip')].map((c) => c.dataset.tag)]));
      assertEq(newest, intel.events.map((e) => [e.event_id, INTEL_IP, e.tags]), 'newest intel-listed events');
      assert(newest[0][2].some((t) => t.startsWith('intel:')), `an intel tag: ${newest[0][2]}`);
      assert(await page.isVisible('[data-testid=intel-events] .intel-list li .chip.intel'), 'intel chips are marked');

      await page.click('[data-testid=top-countries] li.bar[data-value=GB] button');
      await page.waitForSelector('main#page[data-page=explorer] [data-testid=results] tbody tr');
      assert(new URL(page.url()).searchParams.get('country') === 'GB', `country in the URL: ${page.url()}`);
      assertEq(await page.inputValue('[data-testid=f-country]'), 'GB', 'the country filter');
      const gb = await hub.getJson('/events', { country: 'GB', limit: 200, ...r });
      const ids = await page.$$eval('[data-testid=results] tbody tr', (rows) => rows.map((x) => x.dataset.id));
      assertEq(ids, gb.events.map((e) => e.event_id), 'the GB events');
      assertEq(ids.length, count('GB'), 'every GB event');
      assertEq(await page.textContent('[data-testid=result-total]'), `${count('GB')} events`, 'the header');
      const codes = await page.$$eval('[data-testid=results] tbody [data-field=country]', (b) => b.map((x) => x.dataset.value));
      assertEq(codes, Array(count('GB')).fill('GB'), 'a GB in each row');

      await page.goBack();
      await overviewReady(page);
      await page.click('[data-testid=intel-count]');
      await page.waitForSelector('main#page[data-page=explorer] [data-testid=results] tbody tr');
      assert(new URL(page.url()).searchParams.get('tag') === 'intel:*', `tag in the URL: ${page.url()}`);
      assertEq(await page.inputValue('[data-testid=f-tag]'), 'intel:*', 'the tag filter');
      const listed = await page.$$eval('[data-testid=results] tbody tr', (rows) => rows.map((x) => x.dataset.id));
      const api = await hub.getJson('/events', { tag: 'intel:*', limit: 200, ...r });
      assertEq(listed, api.events.map((e) => e.event_id), 'the intel-listed events');
      assertEq(await page.textContent('[data-testid=result-total]'), `${count(INTEL_IP)} events`, 'the header');
      clean(w, 'countries and intel');
    } finally {
      await w.close();
    }
  });

  runner.test('explorer: country flags and tag chips; geo and tags in the detail', async () => {
    needEnrich();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.goto(`${hub.base()}ui/explorer?range=24h&source_ip=${INTEL_IP}`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      const api = await hub.getJson('/events', { source_ip: INTEL_IP, limit: 200 });
      assertEq(api.events.length, count(INTEL_IP), 'API: events of the listed address');
      const g = api.events[0].geo;
      assertEq([g.country, g.city, `AS${g.asn} ${g.as_org}`], ['SE', 'Linköping', AS_LABEL], 'API: its geo');
      const rows = await page.$$eval('[data-testid=results] tbody tr', (tr) => tr.map((x) => {
        const c = x.querySelector('[data-field=country]');
        return [x.dataset.id, c.textContent, c.title, [...x.querySelectorAll('td.tags .chip')].map((t) => t.dataset.tag),
          [...x.querySelectorAll('td.tags .chip.intel')].length];
      }));
      assertEq(rows.map((x) => x[0]), api.events.map((e) => e.event_id), 'the rows');
      for (const [, text, title, tags, intel] of rows) {
        assertEq(text, `${flag('SE')}SE`, 'flag and code');
        assertEq(title, `${g.country_name}, ${g.city}`, 'country name and city in the title');
        assertEq(tags, api.events[0].tags, 'tag chips');
        assert(intel >= 1, 'an intel chip');
      }
      await page.click('[data-testid=results] tbody tr:first-child [data-testid=open-event]');
      await page.waitForSelector('[data-testid=drawer] dd[data-field=geo] [data-geo=city]');
      assertEq(await page.textContent('[data-testid=drawer] [data-geo=city]'), 'Linköping', 'city');
      assertEq(await page.textContent('[data-testid=drawer] [data-geo=asn]'), AS_LABEL, 'ASN');
      const country = await page.textContent('[data-testid=drawer] [data-geo=country]');
      assertEq(country, `${g.country_name} ${flag('SE')}SE`, 'country name and code');
      assertEq(await page.textContent('[data-testid=drawer] [data-geo=location]'), `${g.lat}, ${g.lon}`, 'lat/lon');
      const chips = await page.$$eval('[data-testid=drawer] dd[data-field=tags] .chip', (c) => c.map((x) => x.dataset.tag));
      assertEq(chips, api.events[0].tags, 'the tag chips');
      await shot(w, a.shots, 'explorer-event');
      const tag = chips.find((t) => t.startsWith('intel:'));
      await page.click(`[data-testid=drawer] dd[data-field=tags] .chip[data-tag="${tag}"]`);
      await page.waitForSelector('[data-testid=drawer]', { state: 'hidden' });
      await page.waitForFunction((t) => document.querySelector('[data-testid=f-tag]').value === t, tag);
      assert(new URL(page.url()).searchParams.get('tag') === tag, `tag in the URL: ${page.url()}`);
      await page.waitForFunction((n) => document.querySelector('[data-testid=result-total]').textContent === `${n} events`, count(INTEL_IP));

      // A link straight to a country, and a click on a row's country.
      await page.goto(`${hub.base()}ui/explorer?range=24h&country=GB`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      assertEq(await page.$$eval('[data-testid=results] tbody tr', (r) => r.length), count('GB'), 'rows of ?country=GB');
      await page.goto(`${hub.base()}ui/explorer?range=24h&event_type=FIREWALL_BLOCK`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      await shot(w, a.shots, 'explorer');
      await page.click('[data-testid=results] tbody [data-field=country][data-value=GB] >> nth=0');
      await page.waitForFunction(() => document.querySelector('[data-testid=f-country]').value === 'GB');
      await page.waitForFunction((n) => document.querySelector('[data-testid=result-total]').textContent === `${n} events`, count('GB'));
      assert(page.url().includes('event_type=FIREWALL_BLOCK') && page.url().includes('country=GB'), `filters in the URL: ${page.url()}`);
      clean(w, 'explorer enrichment');
    } finally {
      await w.close();
    }
  });

  runner.test('an alert ingested during the test arrives live and can be acknowledged', async () => {
    needBrowser();
    assertEq((await hub.get('/alerts')).status, 200, 'GET /alerts');
    assertEq((await hub.get('/rules')).status, 200, 'GET /rules');
    const w = await openPage(browser);
    try {
      const { page } = w;
      const tag = `WEBTEST_ALERT_${Date.now()}`;
      const yaml = `title: Web test ${tag}\nid: ${crypto.randomUUID()}\nstatus: test\nlogsource:\n  product: minisiem\ndetection:\n  selection:\n    event_type: ${tag}\n  condition: selection\nlevel: high\n`;
      const made = await hub.req('POST', '/rules', { body: yaml, headers: { 'Content-Type': 'application/yaml', Authorization: `Bearer ${await hub.login()}` } });
      assert(made.status === 200 || made.status === 201, `POST /rules: ${made.status} ${made.body}`);
      await login(w, hub);
      await page.click('[data-testid=nav-alerts]');
      await page.waitForSelector('[data-testid=live-state][data-state=live]');
      await hub.ingest([{ event_type: tag, severity: 4, os_type: 'LINUX', source_host: 'web1', message: `web test alert ${tag}` }]);
      const card = page.locator('[data-testid=alert]', { hasText: tag });
      await card.waitFor();
      await card.locator('[data-testid=ack]').click();
      await card.waitFor({ state: 'detached' });
      await page.click('[data-testid=tab-acknowledged]');
      await page.locator('[data-testid=alert]', { hasText: tag }).waitFor();
      clean(w, 'alerts');
    } finally {
      await w.close();
    }
  });

  runner.test('alerts: headlines are the summaries, counts the events; imported history apart', async () => {
    needBrowser();
    assertEq((await hub.get('/alerts', { backfill: 'false' })).status, 200, 'GET /alerts?backfill=false');
    const live = (await hub.getJson('/alerts', { status: 'open', backfill: 'false', limit: 100 })).alerts;
    const old = (await hub.getJson('/alerts', { backfill: 'true', limit: 100 })).alerts;
    // What the seed raised, as the API says it.
    const accounts = live.filter((x) => x.rule_id === RULE_ACCOUNT);
    assert(accounts.length >= 1 && accounts.length <= NEW_ACCOUNTS.length, `API: ${accounts.length} account-created alerts`);
    assert(live.some((x) => x.rule_id === RULE_BRUTE && x.group_key === `source_ip=${BURST[0]}`), `API: a brute force from ${BURST[0]}`);
    assert(live.every((x) => x.backfill === false), 'API: backfill=false lists live alerts only');
    assert(!live.some((x) => x.rule_id === RULE_AUDIT), 'API: the old audit-log events raised no live alert');
    assert(old.length >= 1 && old.every((x) => x.backfill === true), 'API: backfill=true lists imported history only');
    assert(old.some((x) => x.rule_id === RULE_AUDIT), 'API: the old audit-log events raised an alert of imported history');
    const w = await openPage(browser);
    try {
      const { page } = w;
      streamSlots(w);
      await login(w, hub);
      await page.click('[data-testid=nav-alerts]');
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=alerts-list] [data-testid=alert]').length === n, live.length);
      const cards = await alertCards(page);
      assertEq(cards.map((c) => c[0]), live.map((x) => String(x.id)), 'the open live alerts, newest first');
      assertEq(cards.map((c) => c[1]), live.map((x) => x.summary), 'each headline is the alert\'s summary');
      assertEq(cards.map((c) => c[2]), live.map(countsText), 'each counts line says events_total (and count when over 1)');
      assertEq(cards.map((c) => c[3]), live.map(() => false), 'no backfill alert among the live ones');
      assertEq(cards.map((c) => c[4]), live.map((x) => groupPairs(x.group_key)), 'the group as chips');
      const brute = live.find((x) => x.rule_id === RULE_BRUTE && x.group_key === `source_ip=${BURST[0]}`);
      const chip = page.locator(`[data-testid=alert][data-id="${brute.id}"] [data-testid=alert-group] .chip`);
      assertEq((await chip.textContent()).trim(), `address ${BURST[0]}`, 'the address chip');
      const rules = await page.$$eval('[data-testid=alerts-list] [data-testid=alert]', (c) => c.map((x) =>
        x.querySelector('[data-testid=alert-rule]')?.textContent ?? null));
      assertEq(rules, live.map((x) => (x.summary === x.rule_title ? null : x.rule_title)), 'the rule title beside the severity');
      await shot(w, a.shots, 'alerts');

      await page.click('[data-testid=tab-history]');
      await page.waitForSelector('[data-testid=history-note]', { state: 'visible' });
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=alerts-list] [data-testid=alert]').length === n
        && !document.querySelector('[data-testid=alerts-list] [role=status]'), old.length);
      assertEq(new URL(page.url()).searchParams.get('view'), 'history', 'the view in the URL');
      const hist = await alertCards(page);
      assertEq(hist.map((c) => c[0]), old.map((x) => String(x.id)), 'imported history: the backfill alerts');
      assertEq(hist.map((c) => c[1]), old.map((x) => x.summary), 'their headlines');
      assertEq(hist.map((c) => c[2]), old.map(countsText), 'their counts');
      assertEq(hist.map((c) => c[3]), old.map(() => true), 'all backfill');
      assert(/long after they happened/.test(await page.textContent('[data-testid=history-note]')), 'the note says what they are');
      await page.click('[data-testid=tab-open]');
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=alerts-list] [data-testid=alert][data-backfill=false]').length === n, live.length);
      clean(w, 'alerts and imported history');
    } finally {
      await w.close();
    }
  });

  runner.test('alerts: ui/alerts?id=N (a notification\'s link) opens N first, expanded with its events', async () => {
    needBrowser();
    assertEq((await hub.get('/alerts', { backfill: 'true' })).status, 200, 'GET /alerts?backfill=true');
    // The oldest open live alert, so that it is not first in the list by itself.
    const live = (await hub.getJson('/alerts', { status: 'open', backfill: 'false', limit: 100 })).alerts;
    const target = live[live.length - 1];
    const full = await hub.getJson(`/alerts/${target.id}`);
    const w = await openPage(browser);
    try {
      const { page } = w;
      streamSlots(w);
      await login(w, hub);
      await page.goto(`${hub.base()}ui/alerts?id=${target.id}`);
      await page.waitForSelector('[data-testid=alert][data-focus] [data-testid=alert-events] tbody tr');
      const firstCard = await page.$eval('[data-testid=alerts-list] [data-testid=alert]', (c) =>
        [c.dataset.id, c.classList.contains('focus'), c.dataset.focus, c.querySelector('[data-testid=alert-summary]').textContent]);
      assertEq(firstCard, [String(target.id), true, 'true', target.summary], 'alert N first, highlighted');
      assert(await page.isVisible('[data-testid=alert][data-focus] [data-testid=alert-events]'), 'its events are shown');
      const ids = await page.$$eval('[data-testid=alert][data-focus] [data-testid=alert-events] tbody tr', (r) => r.map((x) => x.dataset.id));
      assertEq(ids, full.events.slice(0, 20).map((e) => e.event_id), 'the events behind it (GET /alerts/N)');
      assertEq(await page.getAttribute('[data-testid=tab-open]', 'aria-selected'), 'true', 'in the Open tab');
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=alerts-list] [data-testid=alert]').length === n, live.length);
      const order = await page.$$eval('[data-testid=alerts-list] [data-testid=alert]', (c) => c.map((x) => x.dataset.id));
      assertEq(order, [String(target.id), ...live.filter((x) => x.id !== target.id).map((x) => String(x.id))], 'then the others, once each');
      await page.click('[data-testid=alert][data-focus] [data-testid=alert-events-toggle]');
      await page.waitForSelector('[data-testid=alert][data-focus] [data-testid=alert-events]', { state: 'hidden' });

      // An alert of imported history opens in that view.
      const old = (await hub.getJson('/alerts', { backfill: 'true', limit: 100 })).alerts;
      await page.goto(`${hub.base()}ui/alerts?id=${old[0].id}`);
      await page.waitForSelector('[data-testid=alert][data-focus] [data-testid=alert-events] tbody tr');
      assertEq(await page.getAttribute('[data-testid=tab-history]', 'aria-selected'), 'true', 'a backfill alert: the Imported history tab');
      assert(await page.isVisible('[data-testid=history-note]'), 'with its note');
      assertEq(await page.$eval('[data-testid=alerts-list] [data-testid=alert]', (c) => c.dataset.id), String(old[0].id), 'it first');

      // The overview's imported-history note leads to the same view.
      await page.click('[data-testid=nav-overview]');
      await page.waitForSelector('[data-testid=alerts-backfill]');
      await page.click('[data-testid=alerts-backfill]');
      await page.waitForSelector('main#page[data-page=alerts] [data-testid=history-note]', { state: 'visible' });
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=alerts-list] [data-testid=alert][data-backfill=true]').length === n, old.length);
      assertEq(await page.getAttribute('[data-testid=tab-history]', 'aria-selected'), 'true', 'from the overview: imported history');
      clean(w, 'alert link');
    } finally {
      await w.close();
    }
  });

  runner.test('alerts: investigating one — its rule, the explorer on its events, a comment kept in its history', async () => {
    needBrowser();
    const live = (await hub.getJson('/alerts', { status: 'open', backfill: 'false', limit: 100 })).alerts;
    const target = live.find((a) => /source_ip=/.test(a.group_key)) || live[0];
    const rule = await hub.getJson(`/rules/${encodeURIComponent(target.rule_id)}`);
    const w = await openPage(browser);
    try {
      const { page } = w;
      streamSlots(w);
      await login(w, hub);
      await page.goto(`${hub.base()}ui/alerts?id=${target.id}`);
      const card = '[data-testid=alert][data-focus]';
      await page.waitForSelector(`${card} [data-testid=alert-investigation]`);
      const ruleText = await page.textContent(`${card} [data-testid=alert-rule-detail]`);
      assert(ruleText.includes(rule.title), `the rule's title: ${ruleText}`);
      if (rule.description) assert(ruleText.includes(rule.description.slice(0, 40)), 'and its description');
      assertEq(await page.$eval(`${card} [data-testid=alert-rule-detail] pre`, (p) => p.textContent), rule.yaml, 'its YAML');
      assert((await page.textContent(`${card} [data-testid=alert-history]`)).includes('Not acknowledged'), 'no history yet');
      await page.fill(`${card} [data-testid=alert-comment]`, 'checked with the owner');
      await page.click(`${card} [data-testid=ack]`);
      await page.waitForSelector(`${card} [data-testid=alert-history] li[data-action=ack]`);
      const hist = await page.textContent(`${card} [data-testid=alert-history] li[data-action=ack]`);
      assert(hist.includes('admin acknowledged') && hist.includes('checked with the owner'), `history: ${hist}`);
      const api = await hub.getJson(`/alerts/${target.id}`);
      assertEq(api.history.map((x) => [x.action, x.comment]), [['ack', 'checked with the owner']], 'the API keeps it');
      // the explorer, filtered to the alert's group and time
      await page.click(`${card} [data-testid=alert-explorer-link]`);
      await page.waitForSelector('main#page[data-page=explorer]');
      const url = new URL(page.url());
      for (const kv of target.group_key.split(',').filter(Boolean)) {
        const [k, v] = kv.split('=');
        const field = k === 'host' ? 'source_host' : k;
        assertEq(url.searchParams.get(field), v, `the explorer filters ${field}`);
      }
      assert(url.searchParams.get('from') && url.searchParams.get('to'), 'and the alert\'s time');
      clean(w, 'alert investigation');
    } finally {
      await w.close();
    }
  });

  runner.test('rules: matches and alerts per rule; helpers under the correlation they feed', async () => {
    needBrowser();
    const probe = await hub.get('/rules');
    assertEq(probe.status, 200, 'GET /rules');
    const rules = probe.json().rules;
    assert(rules.some((r) => 'used_by' in r), 'GET /rules says used_by');
    const byId = new Map(rules.map((r) => [r.id, r]));
    const helpers = rules.filter((r) => r.used_by && byId.has(r.used_by));
    assert(helpers.length >= 5, `the built-in correlations have helper rules (${helpers.length})`);
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.click('[data-testid=nav-rules]');
      await page.waitForSelector('[data-testid=rules-list] tbody tr');
      const rows = await page.$$eval('[data-testid=rules-list] tbody tr', (tr) => tr.map((x) => ({
        id: x.dataset.id, depth: Number(x.dataset.depth), feeds: x.querySelector('[data-testid=feeds]')?.dataset.parent ?? null,
        feedsText: x.querySelector('[data-testid=feeds]')?.textContent ?? null,
        matches: x.querySelector('[data-testid=matches]').dataset.value ?? null,
        alerts: x.querySelector('[data-testid=alerts]').dataset.value ?? null })));
      assertEq(rows.map((r) => r.id).sort(), rules.map((r) => r.id).sort(), 'every rule once');
      const detections = rules.filter((r) => !(r.used_by && byId.has(r.used_by)));
      assertEq(await page.getAttribute('[data-testid=rules-count]', 'data-value'), String(detections.length), 'the header counts detections');
      assert((await page.textContent('[data-testid=rules-count]')).includes(`${helpers.length} helper rule`), 'and says the helpers apart');
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const rule = byId.get(r.id);
        if (!rule.used_by || !byId.has(rule.used_by)) {
          assertEq([r.depth, r.feeds], [0, null], `${rule.title}: a detection of its own`);
          assertEq(r.alerts, `${rule.alerts_24h ?? ''}/${rule.alerts ?? ''}`, `${rule.title}: alerts (24 h / all)`);
          continue;
        }
        const parent = byId.get(rule.used_by);
        assertEq(r.feeds, parent.id, `${rule.title}: marked as feeding its correlation`);
        assertEq(r.feedsText, `feeds ${parent.title}`, `${rule.title}: the correlation's title`);
        let j = i - 1; // the nearest row above, one level up, is its correlation
        while (j >= 0 && rows[j].depth >= r.depth) j--;
        assert(j >= 0 && rows[j].id === parent.id && rows[j].depth === r.depth - 1, `${rule.title}: under ${parent.title}`);
        assertEq(r.alerts, null, `${rule.title}: no alerts of its own`);
      }
      for (const r of rows) {
        const m = byId.get(r.id).matches;
        assertEq(r.matches, m === undefined || m === null ? '' : String(m), 'matches since start');
      }
      const brute = rows.find((r) => r.id === RULE_BRUTE);
      assert(Number(brute.alerts.split('/')[0]) >= 1, `the seeded brute force counts in the last 24 h: ${brute.alerts}`);
      const failed = rows.find((r) => byId.get(r.id).used_by === RULE_BRUTE && byId.get(r.id).name === 'minisiem_bf_login_failed');
      assert(failed && failed.depth === 1, 'the failed-login helper under the brute force');
      if (failed.matches !== '') {
        const seeded = ATTACKERS.reduce((n, x) => n + x[1], 0) + BURST[1];
        assert(Number(failed.matches) >= seeded, `it matched every seeded failed login (${failed.matches} of ${seeded})`);
      }
      await shot(w, a.shots, 'rules');
      clean(w, 'rules list');
    } finally {
      await w.close();
    }
  });

  runner.test('a rule with a YAML error shows the error with its line', async () => {
    needBrowser();
    const probe = await hub.get('/rules');
    assertEq(probe.status, 200, 'GET /rules');
    const w = await openPage(browser);
    try {
      const { page } = w;
      w.allow(/^4\d\d (POST|PUT) .*\/rules/);
      await login(w, hub);
      await page.click('[data-testid=nav-rules]');
      await page.click('[data-testid=new-rule]');
      await page.fill('[data-testid=rule-yaml]', 'title: broken\ndetection:\n  selection: [unclosed\n  condition: selection\n');
      await page.click('[data-testid=rule-save]');
      await page.waitForSelector('[data-testid=rule-errors] .error');
      const text = await page.textContent('[data-testid=rule-errors]');
      assert(/line \d+/i.test(text), `error names a line: ${text}`);
      await shot(w, a.shots, 'rule-error');
      clean(w, 'rules');
    } finally {
      await w.close();
    }
  });

  runner.test('rules: a rule nothing can feed says so, in the list and on save', async () => {
    needBrowser();
    const probe = await hub.get('/rules');
    assertEq(probe.status, 200, 'GET /rules');
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.click('[data-testid=nav-rules]');
      await page.click('[data-testid=new-rule]');
      const id = '5ec0c10d-0000-4000-8000-00000000e001';
      await page.fill('[data-testid=rule-yaml]', `title: Netcat started\nid: ${id}\nlogsource:\n  product: macos\n` +
        '  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /nc\n  condition: sel\nlevel: low\n');
      await page.click('[data-testid=rule-save]');
      await page.waitForSelector('[data-testid=rule-saved-warning]');
      const saved = await page.textContent('[data-testid=rule-saved-warning]');
      assert(/Netcat started: can never fire: minisiem has no macOS source/.test(saved), `on save: ${saved}`);
      const rules = (await hub.getJson('/rules')).rules;
      const warned = rules.filter((r) => r.warning);
      assert(warned.some((r) => r.id === id), 'the API warns about it');
      await page.waitForSelector(`[data-testid=rules-list] tr[data-id="${id}"] [data-testid=rule-warning]`);
      const shown = await page.$$eval('[data-testid=rules-list] tbody tr', (tr) => tr
        .filter((x) => x.querySelector('[data-testid=rule-warning]'))
        .map((x) => [x.dataset.id, x.querySelector('[data-testid=rule-warning]').textContent]));
      assertEq(shown.map((x) => x[0]).sort(), warned.map((r) => r.id).sort(), 'a warning on exactly the rules the API warns about');
      for (const [rid, text] of shown) assertEq(text, `⚠ ${warned.find((r) => r.id === rid).warning}`, `${rid}: the API's words`);
      clean(w, 'rules warnings');
    } finally {
      await w.close();
    }
  });

  runner.test('a saved dashboard survives a reload', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.click('[data-testid=nav-dashboards]');
      await page.click('[data-testid=dash-new]');
      await page.fill('[data-testid=dash-name]', 'Attacks at a glance');
      await page.selectOption('[data-testid=w-type]', 'number');
      await page.fill('[data-testid=w-title]', 'Failed logins');
      await page.fill('[data-testid=w-event_type]', 'LOGIN_FAIL');
      await page.click('[data-testid=w-add]');
      await page.selectOption('[data-testid=w-type]', 'top');
      await page.fill('[data-testid=w-title]', 'Users attacked');
      await page.selectOption('[data-testid=w-field]', 'user');
      await page.click('[data-testid=w-add]');
      await page.selectOption('[data-testid=w-type]', 'timeseries');
      await page.fill('[data-testid=w-title]', 'Events by severity');
      await page.fill('[data-testid=w-event_type]', '');
      await page.selectOption('[data-testid=w-by]', 'severity');
      await page.selectOption('[data-testid=w-width]', '3');
      await page.click('[data-testid=w-add]');
      await page.click('[data-testid=dash-save]');
      await page.waitForSelector('[data-testid=dash-edit]');
      await page.reload();
      await page.waitForSelector('[data-testid=dash-title]:has-text("Attacks at a glance")');
      await page.waitForSelector('[data-testid=widget][data-type=number] .big');
      await page.waitForSelector('[data-testid=widget][data-type=timeseries] .uplot canvas');
      const n = await page.getAttribute('[data-testid=widget][data-type=number] .big', 'data-value');
      assertEq(Number(n), ATTACKERS.reduce((s, x) => s + x[1], 0) + BURST[1], 'failed logins');
      const titles = await page.$$eval('[data-testid=widget] h2', (h) => h.map((x) => x.textContent));
      assertEq(titles, ['Failed logins', 'Users attacked', 'Events by severity'], 'widgets in order');
      const list = await hub.getJson('/dashboards');
      assertEq(list.dashboards.map((d) => d.name), ['Attacks at a glance'], 'stored on the hub');
      await shot(w, a.shots, 'dashboards');
      clean(w, 'dashboards');
    } finally {
      await w.close();
    }
  });

  runner.test('logout returns to the login page; an expired token does too, with a message', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await overviewReady(page);
      const old = await page.evaluate(() => sessionStorage.getItem('minisiem.token'));
      // The overview's requests and its alert stream may answer while the session ends; the
      // page leaves at the click and the hub revokes the token after: wait for both.
      await page.locator('[data-testid=logout]').click();
      await page.waitForSelector('[data-testid=login-form] [data-testid=login-message]:has-text("logged out")');
      const deadline = Date.now() + 10000;
      let st = 0;
      while (Date.now() < deadline && (st = (await hub.req('GET', '/auth/me', { headers: { Authorization: `Bearer ${old}` } })).status) !== 401) {
        await page.waitForTimeout(50);
      }
      assertEq(st, 401, 'the token is revoked');
      assertEq((await page.textContent('[data-testid=login-message]')).trim(), 'You have logged out.', 'still the logout message');
      assert(!(await page.evaluate(() => sessionStorage.getItem('minisiem.token'))), 'no token kept');
      await page.goto(`${hub.base()}ui/explorer`);
      await page.waitForSelector('[data-testid=login-form]');
      clean(w, 'logout');
      // A token that expired a minute ago, signed with the hub's secret.
      await login(w, hub);
      const now = Math.floor(Date.now() / 1000);
      const expired = makeJwt({ sub: 'admin', role: 'admin', iat: now - 3600, exp: now - 60 });
      await page.evaluate((t) => sessionStorage.setItem('minisiem.token', t), expired);
      w.allow(/^401 GET /);
      // The overview's own requests may meet the expired token before a click would: open
      // the explorer by its address, which asks the hub with that token at once.
      await page.goto(`${hub.base()}ui/explorer`);
      await page.waitForSelector('[data-testid=login-message]:has-text("expired")');
      await page.fill('#login-pass', hub.password);
      await page.click('[data-testid=login-form] button[type=submit]');
      await page.waitForSelector('main#page[data-page=explorer]');
      clean(w, 'expired token');
    } finally {
      await w.close();
    }
  });

  // ---- the explorer's live tail and the dashboard's traps ----

  // Events of a type of their own, committed now (the live tail's test events).
  // Failed SSH logins on a host of their own (the live tail's filter), from one address.
  let liveN = 0;
  const liveEvents = (host, n) => Array.from({ length: n }, () => {
    const i = liveN++;
    const user = ['root', 'admin', 'ubuntu', 'git'][i % 4];
    return { event_id: crypto.randomUUID(), os_type: 'LINUX', event_type: 'LOGIN_FAIL', severity: 3, source_host: host,
      source_ip: '81.2.69.142', user, message: `Failed password for invalid user ${user} from 81.2.69.142 port ${51000 + i} ssh2` };
  });
  const rowIds = (page) => page.$$eval('[data-testid=results] tbody tr', (r) => r.map((x) => x.dataset.id));
  const TIME_RE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC([+-]\d\d:\d\d)?$/;

  runner.test('explorer: live tail streams new events on top, pauses and resumes', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.goto(`${hub.base()}ui/explorer?range=24h&source_host=edge-gw`);
      await page.waitForSelector('[data-testid=results] .empty');
      await page.click('[data-testid=live-toggle]');
      await page.waitForSelector('[data-testid=live-state][data-state=live]');
      assertEq(await page.getAttribute('[data-testid=live-toggle]', 'aria-pressed'), 'true', 'the toggle says it is on');
      assert(page.url().includes('live=1'), `live in the URL: ${page.url()}`);
      const first = liveEvents('edge-gw', 3);
      await hub.ingest([first[0], ...liveEvents('edge-gw2', 2), first[1]]);
      await hub.ingest([first[2]]);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=results] tbody tr').length === n, 3);
      assertEq(await rowIds(page), first.map((e) => e.event_id).reverse(), 'the matching events, newest on top');
      await page.waitForSelector('[data-testid=result-total]:has-text("3 events")'); // the count follows
      // Paused: new events are counted, not shown; resumed: they go on top.
      await page.click('[data-testid=live-pause]');
      const more = liveEvents('edge-gw', 2);
      await hub.ingest(more);
      await page.waitForSelector('[data-testid=live-state][data-pending="2"]');
      assertEq((await rowIds(page)).length, 3, 'nothing added while paused');
      assert((await page.textContent('[data-testid=live-state]')).includes('Paused: 2 new events'), 'the counter');
      assert((await page.textContent('[data-testid=live-pause]')).startsWith('Resume (2 new)'), 'the resume button says how many');
      await page.click('[data-testid=live-pause]');
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=results] tbody tr').length === n, 5);
      assertEq(await rowIds(page), [...first, ...more].map((e) => e.event_id).reverse(), 'resumed: the waiting events on top');
      // Every row as GET /events lists it.
      const api = await hub.getJson('/events', { source_host: 'edge-gw', limit: 10 });
      assertEq(await rowIds(page), api.events.map((e) => e.event_id), 'the same events as the API');
      await shot(w, a.shots, 'explorer-live');
      // Phone width and the dark theme: still no sideways scrolling, still live.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.click('[data-testid=theme]');
      await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(over <= 1, `no sideways scrolling at 390 px (${over} px too wide)`);
      assert(await page.isVisible('[data-testid=live-pause]'), 'the pause button at phone width');
      const last = liveEvents('edge-gw', 1);
      await hub.ingest(last);
      await page.waitForSelector(`[data-testid=results] tbody tr[data-id="${last[0].event_id}"]`);
      await page.click('[data-testid=theme]');
      await page.waitForFunction(() => document.documentElement.dataset.theme !== 'dark');
      // Off: the stream stops.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.click('[data-testid=live-toggle]');
      assertEq(await page.getAttribute('[data-testid=live-toggle]', 'aria-pressed'), 'false', 'off');
      assert(await page.isHidden('[data-testid=live-pause]'), 'no pause button when off');
      clean(w, 'live tail');
    } finally {
      await w.close();
    }
  });

  runner.test('explorer: "All time" and a jump to a date reach imported history', async () => {
    needBrowser();
    const day = 86400e3;
    const old = Array.from({ length: 3 }, (_, i) => ({ event_id: crypto.randomUUID(), os_type: 'LINUX',
      event_type: 'OLD_HISTORY', severity: 2, source_host: 'archive', message: `old ${i}`,
      timestamp: new Date(Date.now() - 20 * day + i * 60000).toISOString() }));
    await hub.ingest(old);
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.goto(`${hub.base()}ui/explorer?event_type=OLD_HISTORY`);
      await page.waitForSelector('[data-testid=results] .empty'); // the last 7 days: none
      await page.selectOption('[data-testid=range]', 'all');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=results] tbody tr').length === 3);
      assertEq(await rowIds(page), old.map((e) => e.event_id).reverse(), 'all time: the old events');
      assert(page.url().includes('range=all'), `range=all in the URL: ${page.url()}`);
      await page.reload();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=results] tbody tr').length === 3);
      assertEq(await page.inputValue('[data-testid=range]'), 'all', 'kept over a reload');
      // A jump to the day before them: none; to their day: the newest up to its end.
      const iso = (t) => { const d = new Date(t); const p = (x) => String(x).padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; };
      const t0 = new Date(old[0].timestamp).getTime();
      await page.fill('[data-testid=jump-date]', iso(t0 - day));
      await page.waitForSelector('[data-testid=results] .empty');
      assert(/[?&]to=/.test(page.url()), `the jump sets the upper bound: ${page.url()}`);
      await page.fill('[data-testid=jump-date]', iso(t0));
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=results] tbody tr').length >= 1);
      const ids = await rowIds(page);
      assert(ids.includes(old[0].event_id), 'the jump reaches the old events');
      assertEq(await page.inputValue('[data-testid=range]'), 'custom', 'shown as a custom range');
      clean(w, 'all time and jump');
    } finally {
      await w.close();
    }
  });

  runner.test('explorer: the drawer shows the whole event as JSON; times show their zone', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.goto(`${hub.base()}ui/explorer?range=24h&event_type=LOGIN_SUCCESS`);
      await page.waitForSelector('[data-testid=results] tbody tr');
      const times = await page.$$eval('[data-testid=results] tbody time', (t) => t.map((x) => x.textContent));
      assert(times.length && times.every((t) => TIME_RE.test(t)), `table times with their zone: ${times.slice(0, 3)}`);
      await page.click('[data-testid=results] tbody tr [data-testid=open-event]');
      await page.waitForSelector('[data-testid=event-json]');
      const id = await page.getAttribute('[data-testid=results] tbody tr', 'data-id');
      const shown = JSON.parse(await page.textContent('[data-testid=event-json]'));
      assertEq(shown, await hub.getJson(`/events/${id}`), 'the whole event, as GET /events/{id} answers');
      const dt = await page.textContent('[data-field=timestamp] time');
      assert(TIME_RE.test(dt), `the drawer's time: ${dt}`);
      // The overview's chart: its time axis and legend name the zone too.
      await page.click('[data-testid=nav-overview]');
      await overviewReady(page);
      // The chart (its axis is drawn on a canvas): the zone it draws in, and the time under
      // the cursor in the legend, written as the tables write it.
      const zone = await page.getAttribute('[data-testid=chart-timeseries] .chart', 'data-zone');
      assert(/^UTC([+-]\d\d:\d\d)?$/.test(zone), `the chart's zone: ${zone}`);
      assert((await page.getAttribute('[data-testid=chart-timeseries] .chart', 'aria-label')).endsWith(`times in ${zone}`), 'said to screen readers');
      const over = await page.$('[data-testid=chart-timeseries] .u-over');
      const box = await over.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForFunction(() => /\d/.test(document.querySelector('[data-testid=chart-timeseries] .u-legend .u-series .u-value')?.textContent || ''));
      const cur = await page.textContent('[data-testid=chart-timeseries] .u-legend .u-series .u-value');
      assert(TIME_RE.test(cur), `the legend's time: ${cur}`);
      const ov = await page.$$eval('[data-testid=overview-table] time', (t) => t.map((x) => x.textContent));
      assert(ov.length && ov.every((t) => TIME_RE.test(t)), `overview times: ${ov.slice(0, 3)}`);
      clean(w, 'drawer and times');
    } finally {
      await w.close();
    }
  });

  runner.test('rules: built-in rules offer Disable/Enable instead of Edit/Delete', async () => {
    needBrowser();
    const probe = await hub.get('/rules');
    assertEq(probe.status, 200, 'GET /rules');
    const builtin = probe.json().rules.find((r) => r.builtin && r.enabled !== false && r.id === RULE_AUDIT) ||
      probe.json().rules.find((r) => r.builtin && r.enabled !== false);
    assert(builtin, 'a built-in rule that is on');
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await page.click('[data-testid=nav-rules]');
      await page.waitForSelector('[data-testid=rules-list] tbody tr');
      const rows = await page.$$eval('[data-testid=rules-list] tbody tr', (tr) => tr.map((x) => ({ id: x.dataset.id,
        edit: !!x.querySelector('[data-testid=rule-edit]'), del: !!x.querySelector('[data-testid=rule-delete]'),
        sw: x.querySelector('[data-testid=rule-switch]')?.textContent ?? null })));
      const byId = new Map(probe.json().rules.map((r) => [r.id, r]));
      for (const r of rows) {
        const rule = byId.get(r.id);
        if (rule.builtin) assertEq([r.edit, r.del, r.sw], [false, false, rule.enabled === false ? 'Enable' : 'Disable'], `${r.id}: built-in`);
        else assertEq([r.edit, r.del, r.sw], [true, true, null], `${r.id}: the hub's own`);
      }
      const row = `[data-testid=rules-list] tbody tr[data-id="${builtin.id}"]`;
      await page.click(`${row} [data-testid=rule-switch]`);
      await page.waitForSelector(`${row} [data-testid=rule-switch]:has-text("Enable")`);
      assertEq((await hub.getJson(`/rules/${builtin.id}`)).enabled, false, 'the API says it is off');
      await page.click(`${row} [data-testid=rule-switch]`);
      await page.waitForSelector(`${row} [data-testid=rule-switch]:has-text("Disable")`);
      assertEq((await hub.getJson(`/rules/${builtin.id}`)).enabled, true, 'and on again');
      clean(w, 'built-in rules');
    } finally {
      await w.close();
    }
  });

  // ---- Settings (web/src/pages/settings.js): agent keys, users, audit log ----

  async function settingsPage(w, hubX, tab) {
    await w.page.click('[data-testid=nav-settings]');
    await w.page.waitForSelector('main#page[data-page=settings]');
    if (tab) await w.page.click(`[data-testid=tab-${tab}]`);
  }

  async function loginAs(w, hubX, name, password) {
    const { page } = w;
    streamSlots(w);
    await page.goto(hubX.base());
    await page.waitForSelector('[data-testid=login-form]');
    await page.fill('#login-user', name);
    await page.fill('#login-pass', password);
    await page.click('[data-testid=login-form] button[type=submit]');
    await page.waitForSelector('main#page[data-page=overview]');
  }

  const adminReq = async (method, p, body) => hub.req(method, p, { body,
    headers: { Authorization: `Bearer ${await hub.login()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) } });

  runner.test('settings: an agent key is shown once with the agent command, counts its events, and is revoked', async () => {
    needBrowser();
    const w = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await settingsPage(w, hub);
      await page.waitForSelector('[data-testid=keys-table] tbody tr');
      await page.fill('[data-testid=key-name]', 'browser-agent');
      await page.click('[data-testid=key-form] button[type=submit]');
      const key = (await page.textContent('[data-testid=new-key]')).trim();
      assert(/^\S{20,}$/.test(key), `a key: ${key}`);
      const cmd = (await page.textContent('[data-testid=agent-command]')).trim();
      assertEq(cmd, `minisiem-agent --server ${hub.base().replace(/\/$/, '')} --api-key ${key} --source linux-auth`, 'agent command');
      await shot(w, a.shots, 'settings');
      const keys = (await hub.getJson('/keys')).keys;
      const made = keys.find((k) => k.name === 'browser-agent');
      assert(made && !keys.some((k) => 'key' in k), 'listed without its key');
      const row = `[data-testid=keys-table] tr[data-key-id="${made.id}"]`;
      assertEq((await page.textContent(`${row} [data-testid=key-events]`)).trim(), '0', 'no events yet');
      // two events from the new key, then the tab again: its count
      const evs = [0, 1].map((i) => ({ event_id: crypto.randomUUID(), event_type: 'KEY_TEST', message: `browser agent ${i}` }));
      const r = await hub.req('POST', '/ingest', { body: evs, headers: { 'Content-Type': 'application/json', 'X-API-Key': key } });
      assertEq(r.status, 200, 'ingest with the new key');
      await page.click('[data-testid=tab-keys]');
      await page.waitForSelector(`${row} [data-testid=key-events]:text-is("2")`);
      assert(!(await page.$('[data-testid=new-key]')), 'the key is not shown again');
      // revoke, confirmed
      page.once('dialog', (d) => d.accept());
      await page.click(`${row} [data-testid=revoke]`);
      await page.waitForSelector(`${row}.revoked`);
      const after = (await hub.getJson('/keys')).keys.find((k) => k.id === made.id);
      assert(after.revoked === true || after.revoked === 1, 'revoked in the API');
      const r2 = await hub.req('POST', '/ingest', { body: evs, headers: { 'Content-Type': 'application/json', 'X-API-Key': key } });
      assertEq(r2.status, 401, 'the revoked key is refused');
      clean(w, 'settings keys');
    } finally {
      await w.close();
    }
  });

  runner.test('settings: users are added, given a role, a new password and removed; analysts see it is admin-only', async () => {
    needBrowser();
    const w = await openPage(browser);
    const w2 = await openPage(browser);
    try {
      const { page } = w;
      await login(w, hub);
      await settingsPage(w, hub, 'users');
      await page.waitForSelector('[data-testid=users-table] tr[data-user=admin]');
      assert(await page.$eval('[data-testid=users-table] tr[data-user=admin] [data-testid=remove-user]', (b) => b.disabled), 'the built-in admin cannot be removed');
      await page.fill('[data-testid=user-name]', 'webuser');
      await page.selectOption('[data-testid=user-role]', 'analyst');
      await page.fill('[data-testid=user-pass]', 'webuser-password-1');
      await page.click('[data-testid=user-form] button[type=submit]');
      const row = '[data-testid=users-table] tr[data-user=webuser]';
      await page.waitForSelector(row);
      const users = async () => (await hub.getJson('/users')).users;
      assertEq((await users()).find((u) => u.name === 'webuser').role, 'analyst', 'added as analyst');
      // a short password is refused with the hub's reason
      w.allow(/^422 POST .*\/users$/);
      await page.fill('[data-testid=user-name]', 'shorty');
      await page.fill('[data-testid=user-pass]', 'short-pw-12');
      await page.$eval('[data-testid=user-pass]', (i) => i.removeAttribute('minlength'));
      await page.click('[data-testid=user-form] button[type=submit]');
      await page.waitForSelector('[data-testid=user-msg].error:has-text("password")');
      // role
      await page.selectOption(`${row} [data-testid=row-role]`, 'admin');
      await page.waitForSelector('[data-testid=user-msg]:has-text("webuser is now an admin")');
      assertEq((await users()).find((u) => u.name === 'webuser').role, 'admin', 'role changed');
      // password, through the prompt
      page.once('dialog', (d) => d.accept('webuser-password-2'));
      await page.click(`${row} [data-testid=reset-password]`);
      await page.waitForSelector('[data-testid=user-msg]:has-text("Password of webuser changed")');
      const login2 = await hub.req('POST', '/auth/login', { body: { username: 'webuser', password: 'webuser-password-2' }, headers: { 'Content-Type': 'application/json' } });
      assertEq(login2.status, 200, 'the new password logs in');
      // remove, confirmed
      page.once('dialog', (d) => d.accept());
      await page.click(`${row} [data-testid=remove-user]`);
      await page.waitForSelector('[data-testid=user-msg]:has-text("removed")');
      assert(!(await page.$(row)), 'row gone');
      assert(!(await users()).some((u) => u.name === 'webuser'), 'removed in the API');
      clean(w, 'settings users');

      // an analyst: every tab says it is for admins, and offers no form
      assertEq((await adminReq('POST', '/users', { name: 'webanalyst', role: 'analyst', password: 'webanalyst-password' })).status, 201, 'analyst added');
      w2.allow(/^403 GET .*\/(keys|users|audit|config|dead-letters)/);
      await loginAs(w2, hub, 'webanalyst', 'webanalyst-password');
      for (const tab of ['keys', 'users', 'audit', 'config', 'dead']) {
        await settingsPage(w2, hub, tab);
        await w2.page.waitForSelector(`[data-testid=tab-${tab}][aria-selected=true]`);
        await w2.page.waitForSelector('[data-testid=admin-only]');
        assert(!(await w2.page.isVisible('form')), `${tab}: no form for an analyst`);
      }
      clean(w2, 'settings analyst');
    } finally {
      await w.close();
      await w2.close();
    }
  });

  runner.test('settings: a notification channel sends a test message; a failing one shows its error', async () => {
    needBrowser();
    const posts = [];
    const sink = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        posts.push([req.url, Buffer.concat(chunks).toString('utf8')]);
        res.writeHead(req.url === '/ok' ? 200 : 403, { 'Content-Length': 0 });
        res.end();
      });
    });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    const port = sink.address().port;
    const dir = fs.mkdtempSync(path.join(hub.dir, 'channels-'));
    const conf = path.join(dir, 'channels.conf');
    fs.writeFileSync(conf, `[team]\ntype = webhook\nurl = http://u:secretpw@127.0.0.1:${port}/ok\nmin_level = high\n\n`
      + `[broken]\ntype = webhook\nurl = http://127.0.0.1:${port}/nope\n`);
    const h2 = new Hub(a.hub, { args: ['--notify-config', conf] });
    hubs.push(h2);
    const w = await openPage(browser);
    try {
      await h2.start();
      const { page } = w;
      await login(w, h2);
      await settingsPage(w, h2, 'channels');
      const team = '[data-testid=channels-table] tr[data-channel=team]';
      await page.waitForSelector(team);
      assert(!(await page.textContent('[data-testid=channels-table]')).includes('secretpw'), 'no password in the URL shown');
      await page.click(`${team} [data-testid=channel-test]`);
      await page.waitForSelector('[data-testid=channel-msg].notice:has-text("Test message delivered on")');
      assertEq(posts.filter((p) => p[0] === '/ok').length, 1, 'one message at the sink');
      assert(/Test message from minisiem/.test(posts[0][1]), posts[0][1]);
      assert(!/never/.test(await page.textContent(`${team} td:nth-child(7)`)), 'last sent shown');
      w.allow(/^502 POST .*\/alerts\/channels\/broken\/test/);
      await page.click('[data-testid=channels-table] tr[data-channel=broken] [data-testid=channel-test]');
      await page.waitForSelector('[data-testid=channel-msg].error:has-text("not delivered")');
      await page.waitForSelector('[data-testid=channels-table] tr[data-channel=broken] [data-testid=channel-error]:has-text("403")');
      clean(w, 'settings channels');
    } finally {
      await w.close();
      await h2.stop();
      h2.cleanup();
      await new Promise((r) => sink.close(r));
    }
  });

  runner.test('settings: dead letters show the reason and the record; the tailed file and its offset under Sources', async () => {
    needBrowser();
    const dir = fs.mkdtempSync(path.join(hub.dir, 'tail-'));
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(logs);
    const h2 = new Hub(a.hub, { args: ['--tail-dir', logs] });
    hubs.push(h2);
    const w = await openPage(browser);
    try {
      await h2.start();
      const good = JSON.stringify({ event_id: crypto.randomUUID(), app: 'deadtest', message: 'fine' });
      const file = path.join(logs, 'app.jsonl');
      fs.writeFileSync(file, `${good}\nthis is not json deadmarker42\n`);
      let dead = [];
      for (let i = 0; i < 150 && !dead.length; i++) {
        dead = (await h2.getJson('/dead-letters')).dead_letters;
        if (!dead.length) await new Promise((r) => setTimeout(r, 200));
      }
      assert(dead.length === 1, `one dead letter: ${JSON.stringify(dead)}`);
      const { page } = w;
      await login(w, h2);
      await settingsPage(w, h2, 'dead');
      await page.waitForSelector('[data-testid=dead-table] tbody tr');
      assertEq((await page.textContent('[data-testid=dead-reason]')).trim(), dead[0].reason, 'the reason');
      await page.click('[data-testid=dead-table] details summary');
      assertEq((await page.textContent('[data-testid=dead-raw]')).trim(), 'this is not json deadmarker42', 'the record');
      assert((await page.textContent('[data-testid=dead-table]')).includes('app.jsonl'), 'the file');
      // Sources: the file, read to its end
      await settingsPage(w, h2, 'sources');
      await page.waitForSelector('[data-testid=files-table] tbody tr');
      assertEq((await page.textContent('[data-testid=files-table] [data-testid=file-behind]')).trim(), 'up to date', 'read to the end');
      clean(w, 'settings dead letters');
    } finally {
      await w.close();
      await h2.stop();
      h2.cleanup();
    }
  });

  runner.test('settings: dead letters selected and replayed after the line limit is raised', async () => {
    needBrowser();
    const dir = fs.mkdtempSync(path.join(hub.dir, 'replay-'));
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(logs);
    const h2 = new Hub(a.hub, { args: ['--tail-dir', logs, '--tail-line-max', '256'] });
    hubs.push(h2);
    const w = await openPage(browser);
    try {
      await h2.start();
      const eid = crypto.randomUUID();
      const long = JSON.stringify({ event_id: eid, app: 'replayui', event_type: 'export_done', message: `long ${'x'.repeat(400)}` });
      fs.writeFileSync(path.join(logs, 'app.jsonl'), `${long}\nnot json replayui\n`);
      let dead = [];
      for (let i = 0; i < 150 && dead.length < 2; i++) {
        dead = (await h2.getJson('/dead-letters')).dead_letters;
        if (dead.length < 2) await new Promise((r) => setTimeout(r, 200));
      }
      assertEq(dead.length, 2, 'two dead letters');
      // The limit raised: the long line decodes now.
      const pw = h2.password;
      await h2.stop();
      h2.args = ['--tail-dir', logs];
      h2.stdout = ''; // the new run's listening line, not the old one
      await h2.start();
      h2.password = pw;
      const { page } = w;
      await login(w, h2);
      await settingsPage(w, h2, 'dead');
      await page.waitForSelector('[data-testid=dead-table] tbody tr');
      assert(await page.isDisabled('[data-testid=dead-replay]'), 'nothing selected: Replay is off');
      await page.check('[data-testid=dead-pick-all]');
      assertEq((await page.textContent('[data-testid=dead-picked]')).trim(), '2 selected', 'both selected');
      await page.click('[data-testid=dead-replay]');
      await page.waitForFunction(() => /Replayed/.test(document.querySelector('[data-testid=dead-msg]').textContent));
      assertEq((await page.textContent('[data-testid=dead-msg]')).trim(), 'Replayed 1 of 2; 1 still failing (kept with the new reason).', 'the result');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr').length === 1);
      assert((await page.textContent('[data-testid=dead-table] tbody')).includes('malformed JSON'), 'the one left, with its new reason');
      assertEq((await h2.get(`/events/${eid}`)).status, 200, 'the replayed line is stored');
      clean(w, 'settings dead letter replay');
    } finally {
      await w.close();
      await h2.stop();
      h2.cleanup();
    }
  });

  runner.test('overview: the alert count follows the alert stream; its breakdown links filter the alerts page', async () => {
    needBrowser();
    const h2 = new Hub(a.hub);
    hubs.push(h2);
    const w = await openPage(browser);
    try {
      await h2.start();
      const { page } = w;
      streamSlots(w);
      await login(w, h2);
      await page.waitForSelector('[data-testid=metric-alerts][data-live=live] [data-testid=alerts-count]');
      await page.waitForSelector('[data-testid=updated]:has-text("Updated")');
      assertEq(await page.getAttribute('[data-testid=alerts-count]', 'data-value'), '0', 'no alert yet');
      const updated = await page.textContent('[data-testid=updated]');
      // An account created now raises a high alert while the page is open.
      await h2.ingest([{ event_id: crypto.randomUUID(), timestamp: new Date().toISOString(), os_type: 'LINUX',
        event_type: 'ACCOUNT_CREATE', severity: 4, user: 'mallory', source_host: 'web7', message: 'new user: name=mallory' }]);
      await page.waitForFunction(() => document.querySelector('[data-testid=alerts-count]')?.dataset.value === '1');
      assertEq(await page.textContent('[data-testid=updated]'), updated, 'the page was not reloaded');
      assertEq(await page.getAttribute('[data-testid=alerts-status][data-status=open]', 'data-value'), '1', 'one open');
      assertEq(await page.getAttribute('[data-testid=alerts-severity]', 'data-severity'), '4', 'open by severity: high');
      const [al] = (await h2.getJson('/alerts', { limit: 10 })).alerts;
      assertEq(al.severity, 4, 'the API agrees');
      await page.click('[data-testid=alerts-severity][data-severity="4"]');
      await page.waitForSelector('main#page[data-page=alerts]');
      const q = new URL(page.url()).searchParams;
      assertEq([q.get('status'), q.get('severity')], ['open', '4'], 'the alerts page is filtered');
      await page.waitForSelector(`[data-testid=alerts-list] [data-testid=alert][data-id="${al.id}"]`);
      assert(await page.$$eval('[data-testid=alerts-list] [data-testid=alert]', (c) => c.every((x) => x.dataset.severity === '4')), 'only high alerts');
      assert((await page.textContent('[data-testid=alerts-filter]')).includes('High (4) only'), 'the filter is said');
      clean(w, 'overview live alert count');
    } finally {
      await w.close();
      await h2.stop();
      h2.cleanup();
    }
  });

  runner.test('settings: the audit log filtered by actor and action; phone width, dark theme', async () => {
    needBrowser();
    const w = await openPage(browser, { viewport: { width: 390, height: 844 } });
    try {
      const { page } = w;
      assertEq((await adminReq('POST', '/users', { name: 'audited1', role: 'analyst', password: 'audited1-password' })).status, 201, 'user added');
      assertEq((await adminReq('DELETE', '/users/audited1')).status, 200, 'user removed');
      await login(w, hub);
      await page.click('[data-testid=theme]');
      await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
      await settingsPage(w, hub, 'audit');
      await page.waitForSelector('[data-testid=audit-table] tbody tr');
      await page.fill('[data-testid=audit-actor]', 'admin');
      await page.fill('[data-testid=audit-action]', 'user');
      await page.click('[data-testid=audit-form] button[type=submit]');
      const want = (await hub.getJson('/audit', { actor: 'admin', action: 'user', limit: 500 })).audit;
      assert(want.length >= 2, `API: ${JSON.stringify(want)}`);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=audit-table] tbody tr').length === n, want.length);
      const rows = await page.$$eval('[data-testid=audit-table] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
      assert(rows.every((r) => r[1] === 'admin' && /^user\./.test(r[3])), `filtered rows: ${JSON.stringify(rows)}`);
      assertEq(rows[0][4], 'audited1', 'newest first');
      assertEq(rows[0][3], 'user.remove', 'newest first');
      assert(/actor=admin/.test(page.url()) && /action=user/.test(page.url()), `filters kept in the URL: ${page.url()}`);
      assertEq(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'dark theme');
      // sources: the agents seen per key, as the API counts them
      await settingsPage(w, hub, 'sources');
      await page.waitForSelector('[data-testid=agents-table] tr[data-agent=web]');
      const src = await hub.getJson('/sources');
      const webAgent = src.agents.find((k) => k.name === 'web');
      assertEq((await page.textContent('[data-testid=agents-table] tr[data-agent=web] [data-testid=agent-events]')).trim(),
        webAgent.events.toLocaleString('en-US'), 'events of the web key');
      await page.waitForSelector('[data-testid=sources-syslog] .empty:has-text("No syslog listener")');
      await page.waitForSelector('[data-testid=sources-tail] .empty:has-text("No folder is tailed")');
      // the configuration: the secrets masked, a filter
      await settingsPage(w, hub, 'config');
      await page.waitForSelector('[data-testid=config-table] tr[data-option=SIEM_JWT_SECRET]');
      const cfgText = await page.textContent('[data-testid=config-table]');
      assert(!cfgText.includes(WEB_JWT_SECRET) && !cfgText.includes(WEB_API_KEY), 'no secret on the page');
      assertEq((await page.textContent('[data-testid=config-table] tr[data-option=SIEM_JWT_SECRET] [data-testid=config-value]')).trim(), '******** (secret)', 'masked');
      await page.fill('[data-testid=config-filter]', 'retention');
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=config-table] tbody tr')].every((tr) => /retention/i.test(tr.dataset.option)));
      assert((await page.$$('[data-testid=config-table] tbody tr')).length >= 2, 'retention options listed');
      for (const [tab, tbl] of [['audit', 'audit'], ['users', 'users'], ['keys', 'keys'], ['config', 'config'], ['sources', 'agents']]) {
        await settingsPage(w, hub, tab);
        await page.waitForSelector(`[data-testid=${tbl}-table] tbody tr`);
        const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(over <= 1, `${tab}: no sideways scrolling at 390 px (${over} px too wide)`);
      }
      await shot(w, a.shots, 'settings-phone-dark', { fullPage: true });
      await page.click('[data-testid=theme]'); // back to light for the tests after this one
      await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
      clean(w, 'settings audit');
    } finally {
      await w.close();
    }
  });

  runner.test('phone width and the dark theme', async () => {
    needBrowser();
    const w = await openPage(browser, { viewport: { width: 390, height: 844 } });
    try {
      const { page } = w;
      await login(w, hub);
      await overviewReady(page);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(over <= 1, `no sideways scrolling at 390 px (${over} px too wide)`);
      await overviewShot(w, a.shots, 'overview-phone');
      await page.click('[data-testid=theme]');
      await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
      await overviewReady(page);
      // Every page at phone width in the dark theme: no sideways scrolling, once its content
      // is there (an alert opened with its events, a rule's editor, the settings' tabs).
      const pages = [
        ['overview', '[data-testid=metric-alerts] [data-testid=alerts-count]'],
        ['explorer', '[data-testid=results] tbody tr'],
        ['alerts', '[data-testid=alerts-list] [data-testid=alert]'],
        ['rules', '[data-testid=rules-list] tbody tr'],
        ['dashboards', '[data-testid=dash-list]'],
        ...['keys', 'users', 'channels', 'audit', 'dead', 'sources', 'config'].map((t) =>
          [`settings?tab=${t}`, 'main#page[data-page=settings] table tbody tr, main#page[data-page=settings] .empty']),
      ];
      for (const [where, ready] of pages) {
        await page.goto(`${hub.base()}ui/${where}`);
        await page.waitForSelector(ready);
        if (where === 'alerts') {
          await page.click('[data-testid=alerts-list] [data-testid=alert] [data-testid=alert-events-toggle]');
          await page.waitForSelector('[data-testid=alerts-list] [data-testid=alert-events] table tbody tr');
        }
        assertEq(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', `${where}: dark theme`);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(wide <= 1, `${where}: no sideways scrolling at 390 px in the dark theme (${wide} px too wide)`);
      }
      await page.goto(hub.base());
      await overviewReady(page);
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.reload();
      await overviewReady(page);
      assertEq(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'theme kept');
      const sev = await page.$$eval('.sev', (s) => s.slice(0, 3).map((x) => x.textContent));
      assert(sev.every((t) => /^(Info|Low|Medium|High|Critical) \(\d\)$/.test(t)), `severity as text: ${sev}`);
      await overviewShot(w, a.shots, 'overview-dark');
      clean(w, 'phone and dark');
    } finally {
      await w.close();
    }
  });

  runner.test('the app works under SIEM_ROOT_PATH', async () => {
    needBrowser();
    const h2 = new Hub(a.hub, { args: ['--root-path', '/siem'] });
    hubs.push(h2);
    const w = await openPage(browser);
    try {
      await h2.start();
      await h2.ingest(seed(Date.now()).slice(0, 200));
      const { page } = w;
      await page.goto(`${h2.base()}ui/explorer?range=24h`);
      assert(h2.base().endsWith('/siem/'), h2.base());
      await page.waitForSelector('[data-testid=login-form]');
      await page.fill('#login-pass', h2.password);
      await page.click('[data-testid=login-form] button[type=submit]');
      await page.waitForSelector('main#page[data-page=explorer] [data-testid=results] tbody tr');
      assert(new URL(page.url()).pathname === '/siem/ui/explorer', page.url());
      await page.click('[data-testid=nav-overview]');
      await overviewReady(page);
      clean(w, 'root path');
    } finally {
      await w.close();
      await h2.stop();
      h2.cleanup();
    }
  });

  await runner.run(a.k);
  clearTimeout(deadline);
  if (browser) await browser.close();
  for (const h of hubs) {
    const code = await h.stop();
    if (code !== 0 && code !== null && h === hub) {
      runner.failed++;
      log(`hub exited with ${code} after SIGTERM:\n${h.stderr.slice(-2000)}`);
    }
    h.cleanup();
  }
  finish(runner, a);
}

let finished = false;
function finish(runner, a, why) {
  if (finished) return;
  finished = true;
  if (why) runner.failed += Math.max(1, runner.tests.length - runner.passed - runner.failed - runner.skipped);
  log(`web: ${runner.passed} passed, ${runner.failed} failed, ${runner.skipped} skipped`);
  fs.appendFileSync(a.results, `web ${runner.passed} ${runner.failed} ${runner.skipped}\n`);
  process.exit(0);
}

main().catch((e) => {
  log(`web: ${e.stack || e}`);
  const a = args();
  fs.appendFileSync(a.results, 'web 0 1 0\n');
  process.exit(0);
});
