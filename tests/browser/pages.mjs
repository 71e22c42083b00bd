// The overview, the audit chain and its verify, the incident charts (a
// key's traffic, a drift's PSI, the learned detector's features), the
// ATLAS/OWASP names and server-side saved views, in chromium against the
// server and database pages.sh started. Every wait is on a selector, a URL
// or a response; every figure is checked against psql. "BROWSER PASS" at
// the end.
import { harness } from './common.mjs';

const BASE = process.env.BASE;
const t = harness({ base: BASE, pw: process.env.PW, art: process.env.ART, dsn: process.env.DSN });
const { sql, check } = t;
await t.start();

let page = null;
try {
  // ---- the overview, as the auditor ----
  page = await t.newPage('auditor');
  await t.signin(page, 'auditor');
  check(!!(await page.$('#nav a.nav-overview')) && !!(await page.$('#nav a.nav-audit')), 'the auditor has Overview and Audit in the navigation');
  await page.click('#nav a.nav-overview');
  await page.waitForURL(/\/overview$/);
  await page.waitForSelector('#overview .tiles');
  for (const sev of ['critical', 'high', 'medium', 'low']) {
    const want = sql(`SELECT count(*) FROM incidents WHERE status NOT IN ('resolved', 'closed') AND severity = '${sev}'`);
    check((await page.textContent(`#open-by-severity tr[data-severity=${sev}] td.num`)).trim() === want, `open ${sev} incidents: ${want}, as in the database`);
  }
  const open = sql("SELECT count(*) FROM incidents WHERE status NOT IN ('resolved', 'closed')");
  check((await page.textContent('#t-open .tile-value')).trim() === open, `open incidents ${open}`);
  const pending = sql("SELECT count(*) FROM actions WHERE state = 'pending_approval' AND expires_at > now()");
  check((await page.textContent('#t-pending .tile-value')).trim() === pending, `pending approvals ${pending}`);
  check((await page.textContent('#t-events')).includes('not available') && (await page.textContent('#t-lag')).includes('not available'),
    'events/s and consumer lag are "not available" under custos web alone');
  for (const w of ['7', '30']) {
    const want = sql(`SELECT count(*) FROM incidents WHERE detected_at >= now() - interval '${w} days'`);
    check((await page.textContent(`#times tr[data-window="${w}d"] td:nth-of-type(1)`)).trim() === want, `${w} days: ${want} incidents detected`);
  }
  const ackWant = Number(sql(`SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 1) FROM (
      SELECT extract(epoch FROM min(u.at) - i.detected_at) s FROM incidents i JOIN incident_updates u USING (incident_id)
      WHERE i.detected_at >= now() - interval '7 days' AND u.actor IS NOT NULL AND u.actor NOT LIKE 'playbook%' GROUP BY i.incident_id, i.detected_at) t`));
  const ackShown = Number(await page.getAttribute('#times tr[data-window="7d"] td[data-k=ack_median_s] span', 'title').then((s) => s.split(' ')[0]));
  check(Math.abs(ackShown - ackWant) < 1, `median time to acknowledge ${ackShown} s, psql ${ackWant} s`);
  const bars = await page.$$eval('[data-chart=opened] rect.bar title', (ts) => ts.map((e) => Number(e.textContent.split(' ').pop())));
  const opened = sql("SELECT count(*) FROM incidents WHERE detected_at >= date_trunc('hour', now()) - interval '23 hours'");
  check(bars.reduce((a, b) => a + b, 0) === Number(opened), `the bars of the last 24 hours add up to the ${opened} incidents detected in them`);
  await t.shot(page, 'overview');

  // ---- the audit chain and its verify ----
  await page.click('#nav a.nav-audit');
  await page.waitForURL(/\/audit$/);
  await page.waitForSelector('#audit-rows tr[data-seq]');
  const head = sql('SELECT max(seq) FROM audit_log');
  check((await page.getAttribute('#audit-rows tr:first-child', 'data-seq')) === head, `newest first: the chain's head #${head}`);
  const shown = (await page.$$('#audit-rows tr')).length;
  check(shown === Math.min(100, Number(sql('SELECT count(*) FROM audit_log'))), `the first page holds ${shown} rows`);
  await page.fill('#audit-filters input[name=kind]', 'signin');
  await Promise.all([page.waitForURL(/kind=signin/), page.press('#audit-filters input[name=kind]', 'Enter')]);
  await page.waitForFunction(() => { const r = [...document.querySelectorAll('#audit-rows tr')]; return r.length && r.every((x) => x.dataset.kind === 'signin'); });
  const signins = sql("SELECT string_agg(seq::text, ' ' ORDER BY seq DESC) FROM audit_log WHERE event = 'signin'");
  check((await page.$$eval('#audit-rows tr', (rs) => rs.map((r) => r.dataset.seq).join(' '))) === signins, 'the kind filter is in the URL and shows the sign-ins of the chain');
  const rows = sql('SELECT count(*) FROM audit_log');
  await page.click('#verify');
  await page.waitForSelector('#verify-result[data-ok]');
  check((await page.getAttribute('#verify-result', 'data-ok')) === 'true', 'verify says the chain holds');
  check(sql("SELECT count(*) FROM audit_log WHERE event = 'audit_verified' AND actor = 'auditor'") === '1', 'the verify is itself in the chain');
  check((await page.textContent('#verify-result')).includes(`${rows} rows checked`), `verify checked the ${rows} rows`);
  await t.shot(page, 'audit');
  await page.context().close();

  // ---- a viewer may not open the audit page ----
  page = await t.newPage('viewer');
  await t.signin(page, 'viewer');
  check(!(await page.$('#nav a.nav-audit')), 'no Audit link for a viewer');
  await page.goto(`${BASE}/audit`);
  await page.waitForSelector('.state-error');
  check((await page.textContent('.state-error')).includes('cannot open this page'), 'a viewer is told the audit page is not for the role');
  await page.context().close();

  // ---- the analyst: ids with names, charts, saved views ----
  page = await t.newPage('analyst');
  let reads = 0;
  page.on('response', (r) => { if (r.url().includes('/api/v1/incidents?')) reads++; });
  await t.signin(page, 'analyst');
  // the queue reads its page again when the stream opens: an unchanged row
  // stays the very element the analyst may be clicking (a replaced one lost
  // the click below when the re-read landed between mouse down and up)
  await page.waitForSelector('tr[data-incident-id=inc-p1] a.type');
  await page.evaluate(() => { window.__p1 = document.querySelector('tr[data-incident-id=inc-p1]'); });
  await page.waitForSelector('#live[data-mode=stream]');
  for (let i = 0; i < 100 && reads < 2; i++) await page.waitForTimeout(100);
  check(reads >= 2, `the queue read its page again when the stream opened (${reads} reads)`);
  check(await page.evaluate(() => window.__p1 === document.querySelector('tr[data-incident-id=inc-p1]') && window.__p1.isConnected),
    'an unchanged row is kept, not redrawn, when the queue reads its page again');
  const tip = await page.getAttribute('tr[data-incident-id=inc-p1] .tag-atlas', 'title');
  check(tip === 'MITRE ATLAS AML.T0024.002: Exfiltration via AI Inference API: Extract AI Model', `the queue's ATLAS id has its name on hover (${tip})`);
  await Promise.all([page.waitForURL(/\/incidents\/inc-p1$/), page.click('tr[data-incident-id=inc-p1] a.type')]);
  await page.waitForSelector('#charts [data-chart=requests]');
  const names = await page.$$eval('#inc-ids .id-name', (es) => es.map((e) => e.textContent));
  check(names.includes('Unbounded Consumption') && names.includes('Create Proxy AI Model: Replicate AI Model'), `the header names the ids (${names.join(', ')})`);
  const ds = await page.$eval('#charts', (e) => ({ ...e.dataset }));
  const series = await page.evaluate(async (q) => (await fetch(`/api/v1/series?${q}`)).json(),
    new URLSearchParams({ api_key: 'key-7', since: ds.since, until: ds.until, step: ds.step }).toString());
  const reqs = series.points.reduce((a, p) => a + p.requests, 0);
  const reqWant = Number(sql(`SELECT count(*) FROM interactions WHERE api_key_id = 'key-7' AND ts >= '${ds.since}' AND ts < '${ds.until}'`));
  check(reqs === reqWant && reqs > 0, `the chart's series holds the ${reqWant} requests of key-7 in its span`);
  check(Number(await page.getAttribute('[data-chart=requests]', 'data-points')) === series.points.length, 'one point per step');
  check(!!(await page.$('[data-chart=requests] line.ref-line')), 'the request rate is drawn against the key\'s baseline');
  check((await page.textContent('[data-chart=requests] .legend')).includes('baseline 2'), 'the baseline is the alert\'s 10 per 5 minutes = 2/min');
  check((await page.$$('[data-chart=novelty] circle.dot')).length === 2, 'novelty: the two values the extraction alerts measured, no more');
  check(!!(await page.$('[data-chart=refusals] path.series')) && !!(await page.$('[data-chart=tokens] path.series')), 'refusal rate and tokens per minute are drawn');
  const co = await page.$$eval('#alerts .alert .coalesced', (es) => es.map((e) => e.textContent));
  check(await page.textContent('#alerts h2') === 'Alerts (7)', 'the alerts heading counts what the coalesced rows stand for');
  check(co.length === 2 && co[0].includes('1 alert coalesced (no. 3)') && co[1].includes('4 alerts coalesced (no. 4–7)') && co[1].includes(', the last at '),
    `a coalesced row says so, also when it stands for one alert (${co.join(' | ')})`);
  // the timeline's coalesced row gives its last time in the reader's zone
  // (Europe/Paris here), as the rest of the page does, not the UTC of its text
  const lastWant = sql(`SELECT to_char(last_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM alerts WHERE incident_id = 'inc-p1' AND count = 4`);
  const tlRow = await page.$eval('#timeline tr.tl-alert td.what time', (e) => ({ dt: e.getAttribute('datetime'), text: e.closest('td').textContent }));
  check(tlRow.dt === lastWant && tlRow.text.includes('4 alerts coalesced, the last at ') && !tlRow.text.includes(lastWant),
    `the timeline's coalesced row shows its last time (${lastWant}) in local time: "${tlRow.text}"`);
  await t.shot(page, 'incident-charts');

  // a probing incident of the learned detector: why it fired, feature by feature
  await page.goto(`${BASE}/incidents/inc-p3`);
  await page.waitForSelector('#charts [data-chart=learned]');
  const positive = Number(sql(`SELECT count(*) FROM alerts, jsonb_array_elements(evidence->'learned_top') t
    WHERE incident_id = 'inc-p3' AND (t->>'weight')::float > 0`));
  const fbars = await page.$$eval('[data-chart=learned] rect.bar', (es) => es.map((e) => e.querySelector('title').textContent));
  check(fbars.length === positive && positive === 4, `one bar per feature that raised the score (${fbars.length} of ${positive}; a negative one is not drawn)`);
  check(fbars[0] === 'dense prose_after_table: +2.412 to the logit', `the largest first, with its exact contribution (${fbars[0]})`);
  const labels = await page.$$eval('[data-chart=learned] .feat-label', (es) => es.map((e) => e.textContent));
  check(labels.includes('“your reply”') && labels.includes('“ <b>x</b>”') && !(await page.$('[data-chart=learned] b')), `grams are quoted, as text (${labels.join(' | ')})`);
  check((await page.textContent('[data-chart=learned] figcaption')).includes('0.981'), 'the caption gives the score');
  check((await page.textContent('[data-chart=learned] .chart-note')).includes('prose after table'), 'the note names the planted instruction');
  const sigs = await page.$$eval('#alerts .alert .tag-signal', (es) => es.map((e) => e.textContent));
  check(sigs.join(',') === 'learned score,planted instruction', `the alert lists its signals (${sigs.join(', ')})`);
  await t.shot(page, 'incident-learned');

  await page.goto(`${BASE}/incidents/inc-p2`);
  await page.waitForSelector('#charts [data-chart=psi]');
  check((await page.$$('[data-chart=psi] path.series')).length === 2 && (await page.$$('[data-chart=psi] circle.dot')).length === 6, 'drift: the PSI of both features in the three windows');
  check((await page.textContent('#charts')).includes('not stored'), 'drift: the distributions that are not stored are said so');
  await page.waitForSelector('[data-chart=model-requests]');
  check(true, 'drift: the model version\'s requests are drawn beside the PSI');
  await t.shot(page, 'incident-drift');

  await page.goto(`${BASE}/`);
  await page.waitForSelector('tr[data-incident-id]');
  await Promise.all([page.waitForURL(/severity=high/), page.selectOption('select[name=severity]', 'high')]);
  await page.waitForSelector('#save-view');
  await page.click('#save-view');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/views') && r.request().method() === 'POST' && r.status() === 201),
    t.answer(page, { name: 'my highs' }),
  ]);
  await page.waitForSelector('#views a.on');
  check((await page.textContent('#views a.on')) === 'my highs', 'the saved view is shown as the current one');
  check(sql("SELECT v.query FROM web_saved_views v JOIN web_users u USING (user_id) WHERE u.username = 'analyst' AND v.name = 'my highs'") === 'severity=high',
    'the view is kept on the server for the analyst');
  await t.shot(page, 'queue-saved-view');
  await page.context().close();
  // another browser (no local storage in common): the view is there
  page = await t.newPage('analyst');
  await t.signin(page, 'analyst');
  await page.waitForSelector('#views [data-view-id] a');
  await Promise.all([page.waitForURL((u) => u.search === '?severity=high'), page.click('#views [data-view-id] a')]);
  check(true, 'in another browser the saved view is there and opens its filters');
  await page.click('#views [data-view-id] button.btn-x');
  await page.waitForFunction(() => !document.querySelector('#views [data-view-id]'));
  check(sql('SELECT count(*) FROM web_saved_views') === '0', 'forgetting the view deletes it on the server');
  check(sql("SELECT count(*) FROM audit_log WHERE actor = 'analyst' AND event IN ('view_saved', 'view_deleted')") === '2', 'saving and forgetting are audited');
  await page.context().close();

  // ---- live over SSE: a new incident arrives while a row is selected,
  // the page scrolled and a search half-typed; nothing of that moves ----
  page = await t.newPage('analyst');
  // The queue reads its first page, then once more when its stream opens
  // (what changed before): both answered before the scene is set, so that
  // the scroll below is not made while the page is still settling.
  let pages = 0;
  page.on('response', (r) => { if (r.url().includes('/api/v1/incidents?')) pages++; });
  await t.signin(page, 'analyst');
  await page.waitForSelector('#live[data-mode=stream]');
  for (let i = 0; i < 100 && pages < 2; i++) await page.waitForTimeout(100);
  check(pages >= 2, `the queue read its page again when the stream opened (${pages} reads)`);
  check(true, 'the queue is live on the stream (EventSource on /api/v1/stream)');
  // the test's own listener on the same stream: the event is on the wire
  await page.evaluate(() => {
    window.__events = [];
    const es = new EventSource('/api/v1/stream');
    es.addEventListener('incident', (e) => window.__events.push(JSON.parse(e.data)));
    window.__es = es;
    return new Promise((ok) => es.addEventListener('open', ok, { once: true }));
  });
  const ids = await page.$$eval('#rows tr[data-incident-id]', (rs) => rs.map((r) => r.dataset.incidentId));
  const pick = ids[8];
  await page.click(`tr[data-incident-id="${pick}"] td.pick input`);
  await page.click(`tr[data-incident-id="${pick}"] td:nth-child(3)`); // the keyboard's row
  await page.focus('#search');
  await page.keyboard.type('half typed');
  await page.waitForFunction(() => document.activeElement.value === 'half typed');
  await page.$eval(`tr[data-incident-id="${pick}"]`, (r) => window.scrollTo(0, r.getBoundingClientRect().top + window.scrollY - 300));
  await page.waitForFunction(() => window.scrollY > 0, null, { timeout: 5000 }).catch(() => {});
  const y0 = await page.$eval(`tr[data-incident-id="${pick}"]`, (r) => r.getBoundingClientRect().top);
  check(await page.evaluate(() => window.scrollY > 0), 'the queue is scrolled');
  sql(`INSERT INTO incidents (incident_id, type, severity, status, api_key_id, first_seen, detected_at, last_seen,
         alerts, atlas, owasp, summary, doc, tenant)
       VALUES ('inc-sse', 'leakage', 'critical', 'open', 'key-8', now(), now(), now(), 1, '{AML.T0057}', '{LLM02:2025}',
               'arrived over the stream', '{}', 'acme')`);
  await page.waitForSelector('tr[data-incident-id="inc-sse"]', { state: 'attached' });
  check((await page.$$eval('#rows tr[data-incident-id]', (rs) => rs[0].dataset.incidentId)) === 'inc-sse', 'the new incident arrived live, on top');
  await page.waitForFunction(() => window.__events.some((e) => e.incident_id === 'inc-sse' && e.op === 'opened'));
  check(true, 'it came as an incident event of the stream');
  check(await page.$eval(`tr[data-incident-id="${pick}"]`, (r) => r.classList.contains('selected') && r.classList.contains('cursor') && r.querySelector('input').checked),
    'the selection and the keyboard row stayed');
  const y1 = await page.$eval(`tr[data-incident-id="${pick}"]`, (r) => r.getBoundingClientRect().top);
  check(Math.abs(y1 - y0) < 2, `the selected row did not move on the screen (${y0} -> ${y1})`);
  check(await page.evaluate(() => document.activeElement.id === 'search' && document.activeElement.value === 'half typed'),
    'the search being typed kept its focus and its text');
  check(new URL(page.url()).search === '', 'the half-typed filter was not applied by the arrival');
  await page.evaluate(() => window.__es.close());
  await t.shot(page, 'queue-live-stream');
  // the incident page: a change by someone else is announced, not applied under the reader's eyes
  // the stream's answer is waited for from before the navigation (it can
  // come before the timeline does)
  const streamed = page.waitForResponse((r) => r.url().endsWith('/api/v1/stream') && r.status() === 200);
  await page.goto(`${BASE}/incidents/inc-p1`);
  await page.waitForSelector('#timeline');
  await streamed;
  sql("UPDATE incidents SET assignee = 'responder' WHERE incident_id = 'inc-p1'");
  await page.waitForSelector('#inc-changed:not([hidden])');
  check((await page.textContent('#inc-changed')).includes('responder'), 'the incident page says it changed (assigned to responder) and offers to reload');
  await page.click('#inc-reload');
  await page.waitForFunction(() => document.querySelector('#assignee') && document.querySelector('#assignee').textContent === 'responder');
  check(true, 'reloading shows the change');
  await page.context().close();

  check(t.a11y.length === 0, `axe-core finds no serious or critical violation${t.a11y.length ? ': ' + t.a11y.join(' | ') : ''}`);
  check(t.problems.length === 0, `no console error and no CSP violation${t.problems.length ? ': ' + t.problems.join(' | ') : ''}`);
  console.log('screenshots:\n' + t.shots.join('\n'));
  console.log('BROWSER PASS');
} catch (e) {
  console.error(e.stack || String(e));
  if (page && !page.isClosed()) {
    await page.screenshot({ path: `${process.env.ART}/failure.png` }).catch(() => {});
    console.error(`at ${page.url()}; screenshot ${process.env.ART}/failure.png`);
  }
  if (t.problems.length) console.error('console problems:', t.problems.join(' | '));
  process.exitCode = 1;
} finally {
  await t.browser.close();
}
