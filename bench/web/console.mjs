// The console benchmark in headless chromium (bench/web/console.sh): time
// from navigation to the queue's first rows, to an incident's timeline and
// evidence, and from an incident row written (psql) to it appearing in an
// open queue over the stream; median and p95 of N runs each, beside the
// issue's targets, and a baseline measured in the same run: the "my
// sessions" page (the same shell, one small API call).
import { execFileSync } from 'node:child_process';
import { chromium } from '../../tests/browser/node_modules/playwright-core/index.mjs';

const BASE = process.env.BASE; const PW = process.env.PW; const DSN = process.env.DSN;
const N = Number(process.env.RUNS || 20);
const sql = (q) => execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', DSN, '-c', q], { encoding: 'utf8' }).trim();
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; };

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await ctx.newPage();
await page.goto(`${BASE}/signin`);
await page.fill('#username', 'analyst');
await page.fill('#password', PW);
await page.click('#signin-form button[type=submit]');
await page.waitForSelector('tr[data-incident-id]');

const res = { baseline: [], queue: [], incident: [], live: [] };
for (let i = 0; i < N; i++) {
  let t0 = Date.now();
  await page.goto(`${BASE}/sessions`);
  await page.waitForSelector('tr[data-session-id]');
  res.baseline.push(Date.now() - t0);

  t0 = Date.now();
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#rows tr[data-incident-id]');
  res.queue.push(Date.now() - t0);

  t0 = Date.now();
  await page.goto(`${BASE}/incidents/inc-ev-${1 + (i * 7) % 200}`);
  await page.waitForSelector('#timeline tbody tr');
  await page.waitForSelector('#evidence article.event');
  res.incident.push(Date.now() - t0);
}
// live: the queue open on the stream; a row written with psql; its arrival
await page.goto(`${BASE}/`);
await page.waitForSelector('#live[data-mode=stream]');
for (let i = 0; i < N; i++) {
  const id = `inc-live-${process.pid}-${i}`;
  await page.evaluate((want) => {
    window.__seen = new Promise((ok) => {
      const ob = new MutationObserver(() => {
        if (document.querySelector(`tr[data-incident-id="${want}"]`)) { ob.disconnect(); ok(performance.timeOrigin + performance.now()); }
      });
      ob.observe(document.querySelector('#rows'), { childList: true });
    });
  }, id);
  const t0 = Date.now();
  sql(`INSERT INTO incidents (incident_id, type, severity, status, api_key_id, first_seen, detected_at, last_seen,
        alerts, atlas, owasp, summary, doc) VALUES ('${id}', 'probing', 'high', 'open', 'key-1', now(), now(), now(),
        1, '{}', '{}', 'live benchmark', '{}')`);
  const seen = await page.evaluate(() => window.__seen);
  res.live.push(Math.round(seen - t0));
}
await browser.close();
const TARGET = { baseline: null, queue: 500, incident: 800, live: 1000 };
const WHAT = { baseline: 'baseline: "my sessions" page (same shell, one small call)', queue: 'navigation -> first queue rows',
  incident: 'navigation -> incident timeline + evidence', live: 'incident row written -> shown in the open queue (SSE)' };
console.log(`\n${'measure'.padEnd(56)} ${'median'.padStart(8)} ${'p95'.padStart(8)}   target`);
for (const k of Object.keys(res)) {
  console.log(`${WHAT[k].padEnd(56)} ${(q(res[k], 0.5) + ' ms').padStart(8)} ${(q(res[k], 0.95) + ' ms').padStart(8)}   ${TARGET[k] ? '<= ' + TARGET[k] + ' ms' : '-'}`);
}
console.log(`(${N} runs each; the live figure includes starting psql for each insert)`);
