// harness.mjs — what the browser tests stand on: the real hub started on a free loopback
// port (--listen 127.0.0.1:0, its "listening on" line read back, as tests/e2e/hub.py does),
// raw HTTP to it, Playwright's Chromium (Debian's /usr/bin/chromium) with a watch on console
// errors and failed requests, and a small runner that counts passed/failed/skipped tests.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
// The shared sample data (GeoIP test databases...), as the unit and end-to-end tests find it.
export const DATA = process.env.SIEM_TEST_DATA || path.resolve(ROOT, '..', 'shared', 'data');
export const JWT_SECRET = 'web-tests-jwt-secret-5f0e1d2c3b4a59687766554433221100';
export const API_KEY = 'webtest-key-0123456789';
const CHROMIUM = '/usr/bin/chromium';

export function playwright() {
  const require = createRequire(path.join(ROOT, 'web', 'package.json'));
  return require('playwright-core');
}

export function chromiumPath() { return fs.existsSync(CHROMIUM) ? CHROMIUM : null; }

// ---- HTTP ----

// -> {status, headers, body (Buffer), json()}
export function request(port, method, p, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: {
      ...(data ? { 'Content-Length': data.length } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf,
          json: () => JSON.parse(buf.toString('utf8')) });
      });
    });
    req.setTimeout(30000, () => req.destroy(new Error(`timeout: ${method} ${p}`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function b64url(b) { return Buffer.from(b).toString('base64url'); }

// An HS256 token signed with the hub's SIEM_JWT_SECRET (exp may be in the past).
export function makeJwt(claims, secret = JWT_SECRET) {
  const h = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

// ---- the hub ----

export class Hub {
  constructor(bin, { args = [], env = {} } = {}) {
    this.bin = path.resolve(bin);
    this.args = args;
    this.env = env;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minisiem-web-'));
    this.proc = null;
    this.port = null;
    this.password = null;
    this.stdout = '';
    this.stderr = '';
    this.prefix = '';
  }

  async start(timeoutMs = 30000) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIEM_')));
    Object.assign(env, { SIEM_API_KEYS: `web:${API_KEY}`, SIEM_JWT_SECRET: JWT_SECRET }, this.env);
    this.proc = spawn(this.bin, ['serve', '--listen', '127.0.0.1:0', '--db', path.join(this.dir, 'store.db'), ...this.args],
      { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.stdout += d; });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = /minisiem: listening on http:\/\/127\.0\.0\.1:(\d+)(\/\S*)?\//.exec(this.stdout);
      if (m) {
        this.port = Number(m[1]);
        this.prefix = m[2] || '';
        const pw = /first run: admin password: (\S+)/.exec(this.stdout);
        this.password = pw ? pw[1] : null;
        return this;
      }
      if (this.proc.exitCode !== null) throw new Error(`hub exited (${this.proc.exitCode}) before listening:\n${this.stderr.slice(-2000)}`);
      await sleepUntil(() => /listening on/.test(this.stdout) || this.proc.exitCode !== null, 50);
    }
    this.kill();
    throw new Error(`hub did not print its listening line within ${timeoutMs} ms`);
  }

  base() { return `http://127.0.0.1:${this.port}${this.prefix}/`; }

  async stop(timeoutMs = 30000) {
    if (!this.proc || this.proc.exitCode !== null) return this.proc?.exitCode;
    const done = new Promise((r) => this.proc.once('exit', (code) => r(code)));
    this.proc.kill('SIGTERM');
    const code = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), timeoutMs))]);
    if (code === 'timeout') this.kill();
    return code;
  }

  kill() { if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL'); }

  cleanup() {
    this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  req(method, p, opts) { return request(this.port, method, this.prefix + p, opts); }

  async login() {
    if (this.token) return this.token;
    const r = await this.req('POST', '/auth/login', { body: { password: this.password }, headers: { 'Content-Type': 'application/json' } });
    if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`);
    this.token = r.json().access_token;
    return this.token;
  }

  async get(p, params) {
    const q = params ? `?${new URLSearchParams(params)}` : '';
    const r = await this.req('GET', p + q, { headers: { Authorization: `Bearer ${await this.login()}` } });
    return r;
  }

  async getJson(p, params) {
    const r = await this.get(p, params);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.body}`);
    return r.json();
  }

  async ingest(events) {
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500);
      const r = await this.req('POST', '/ingest', { body: batch,
        headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY } });
      if (r.status !== 200) throw new Error(`ingest: ${r.status} ${r.body}`);
      const a = r.json();
      if (a.accepted + a.duplicates !== batch.length) throw new Error(`ingest: ${r.body}`);
    }
  }
}

export async function sleepUntil(cond, intervalMs) {
  await new Promise((r) => setTimeout(r, intervalMs));
  return cond();
}

// ---- the browser ----

// A page whose console errors, uncaught exceptions, failed requests and HTTP errors are
// recorded; allow(pattern) accepts responses whose "STATUS METHOD URL" matches. context is
// the browser's one persistent context (its own fresh --user-data-dir); each page is a new
// tab, so sessionStorage (the login) starts empty.
export async function openPage(context, { viewport = { width: 1280, height: 800 } } = {}) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  page.setDefaultTimeout(15000);
  const problems = [];
  const allowed = [];
  const isAllowed = (s) => allowed.some((re) => re.test(s));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium reports every HTTP error response in the console too; those are judged by
    // the response watch below (where an expected 404 or 401 can be allowed).
    if (/Failed to load resource: the server responded with a status of/.test(m.text())) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText || '';
    if (f === 'net::ERR_ABORTED') return; // cancelled by the page itself (navigation, SSE close)
    problems.push(`request failed: ${r.method()} ${r.url()} ${f}`);
  });
  page.on('response', (r) => {
    const s = `${r.status()} ${r.request().method()} ${r.url()}`;
    if (r.status() >= 400 && !isAllowed(s)) problems.push(`HTTP error: ${s}`);
  });
  return {
    page, problems,
    allow(re) { allowed.push(re); },
    async close() { await page.close(); },
  };
}

// ---- the runner ----

export class Skip extends Error {}

export class Runner {
  constructor() { this.tests = []; this.passed = 0; this.failed = 0; this.skipped = 0; this.failures = []; }
  test(name, fn) { this.tests.push([name, fn]); }
  async run(filter) {
    for (const [name, fn] of this.tests) {
      if (filter && !name.includes(filter)) continue;
      const t0 = Date.now();
      try {
        await fn();
        this.passed++;
        log(`${name.padEnd(70)} ok (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      } catch (e) {
        if (e instanceof Skip) {
          this.skipped++;
          log(`${name.padEnd(70)} skipped (${e.message})`);
        } else {
          this.failed++;
          this.failures.push([name, e]);
          log(`${name.padEnd(70)} FAILED (${((Date.now() - t0) / 1000).toFixed(1)}s)\n    ${String(e.stack || e).split('\n').join('\n    ')}`);
        }
      }
    }
  }
}

export function log(s) { process.stdout.write(`${s}\n`); }

export function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
export function assertEq(got, want, msg) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${msg}: got ${g}, want ${w}`);
}
