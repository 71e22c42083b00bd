// The console over the incidents `custos run` made (pipeline.sh): the queue
// against psql, the newest incident with evidence: its timeline against the
// API's rows, a revealed prompt against interactions. Waits on selectors and
// responses only. Prints "BROWSER PASS" at the end.
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const { BASE, PW, ART, DSN } = process.env;
const sql = (q) => execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', DSN, '-c', q], { encoding: 'utf8' }).trim();
const log = (...a) => console.log('[pipeline]', ...a);
function check(cond, what) { if (!cond) throw new Error(`FAIL: ${what}`); log('ok:', what); }

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const problems = [];
let page = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(120000); // generous: a loaded machine (see common.mjs)
  page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/signin/);
  await page.fill('#username', 'analyst');
  await page.fill('#password', PW);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('tr[data-incident-id]');
  const ids = await page.$$eval('#rows tr[data-incident-id]', (rs) => rs.map((r) => r.dataset.incidentId));
  const want = sql("SELECT string_agg(incident_id, ' ' ORDER BY detected_at DESC, incident_id DESC) FROM (SELECT * FROM incidents ORDER BY detected_at DESC, incident_id DESC LIMIT 50) i").split(' ');
  check(JSON.stringify(ids) === JSON.stringify(want), `the queue's first page is the ${want.length} newest incidents of the database`);
  const counts = sql("SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM incidents GROUP BY status) s");
  const shown = await page.$$eval('#counts [data-count]:not([data-count=all])', (as) => as.map((a) => `${a.dataset.count}=${a.querySelector('b').textContent}`).sort().join(' '));
  check(shown === counts, `the counts per status are the database's (${counts})`);
  for (const [w, h] of [[1280, 800], [1920, 1080]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: `${ART}/pipeline-queue-${w}x${h}.png` });
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  // The newest incident with stored evidence.
  const id = sql(`SELECT i.incident_id FROM incidents i WHERE EXISTS (SELECT 1 FROM incident_events e JOIN interactions x USING (event_id, ts)
                  WHERE e.incident_id = i.incident_id AND x.prompt IS NOT NULL) ORDER BY detected_at DESC, incident_id DESC LIMIT 1`);
  check(id !== '', `an incident with stored evidence (${id})`);
  // The page asks for the incident while it loads: wait for that response
  // from before the navigation, not after goto() returns (by then it may
  // have come and gone: CI on ecf4ed1 timed out so, the request served
  // in 31 ms).
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/incidents/${id}`) && r.request().method() === 'GET'),
    page.goto(`${BASE}/incidents/${id}`),
  ]);
  await page.waitForSelector('#timeline');
  const api = await res.json();
  const rows = await page.$$eval('#timeline tbody tr', (rs) => rs.map((r) => [r.dataset.kind, r.querySelector('.what').textContent]));
  check(JSON.stringify(rows) === JSON.stringify(api.timeline.map((t) => [t.kind, t.what ?? ''])), `the timeline shows the incident's ${rows.length} rows, in order`);
  const nalerts = Number(sql(`SELECT count(*) FROM alerts WHERE incident_id = '${id}'`));
  check(rows.filter(([k]) => k === 'alert').length === nalerts, `with its ${nalerts} alerts`);
  await page.click('#reveal');
  await page.waitForSelector('#dialog[open] form');
  await page.fill('#dialog [name=reason]', 'pipeline test: read the evidence');
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/reveal') && r.status() === 200), page.click('#dialog button[type=submit]')]);
  await page.waitForSelector('#revealed');
  const ev = await page.$eval('#evidence [data-event-id]', (e) => e.dataset.eventId);
  const stored = sql(`SELECT prompt FROM interactions WHERE event_id = '${ev}'`);
  let shownPrompt = await page.textContent(`#evidence [data-event-id="${ev}"] pre.prompt`);
  if (stored.length > 400) {
    await page.click(`#evidence [data-event-id="${ev}"] .show-more`);
    shownPrompt = await page.textContent(`#evidence [data-event-id="${ev}"] pre.prompt`);
  }
  check(shownPrompt.trim() === stored.trim(), 'the revealed prompt is the stored one, as text');
  for (const [w, h] of [[1280, 800], [1920, 1080]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: `${ART}/pipeline-incident-${w}x${h}.png` });
  }
  check(problems.length === 0, `no console error and no CSP violation${problems.length ? ': ' + problems.join(' | ') : ''}`);
  console.log('BROWSER PASS');
} catch (e) {
  console.error(e.stack || String(e));
  if (page) await page.screenshot({ path: `${ART}/pipeline-failure.png` }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
