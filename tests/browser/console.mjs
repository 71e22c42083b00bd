// The console in chromium (playwright-core, Debian's /usr/bin/chromium)
// against the real server and database that console.sh started. Every wait
// is on a selector, a URL or a response, never a fixed sleep. Database
// checks go through psql. Prints "BROWSER PASS" at the end.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { harness } from './common.mjs';

const BASE = process.env.BASE;
const PW = process.env.PW;
const ART = process.env.ART;
const DSN = process.env.DSN;
const ROLES = ['viewer', 'analyst', 'responder', 'auditor', 'admin'];

const t = harness({ base: BASE, pw: PW, art: ART, dsn: DSN });
const { sql, check, problems, a11y, shots } = t;
const newPage = t.newPage; const shot = t.shot; const signin = t.signin; const answer = t.answer;
await t.start();
const browser = t.browser;

const queueIds = (page) => page.$$eval('#rows tr[data-incident-id]', (rs) => rs.map((r) => r.dataset.incidentId));

async function openIncident(page, id) {
  await page.click(`tr[data-incident-id="${id}"] a.type`);
  await page.waitForURL(new RegExp(`/incidents/${id}$`));
  await page.waitForSelector('#timeline');
}

let page = null;
try {
  // ---- sign-in page, and a wrong password ----
  page = await newPage('anonymous');
  await page.goto(`${BASE}/incidents/inc-b05`);
  await page.waitForURL(/\/signin\?next=/);
  check(new URL(page.url()).searchParams.get('next') === '/incidents/inc-b05', 'a deep link while signed out goes to sign-in and keeps where it was going');
  await page.fill('#username', 'analyst');
  await page.fill('#password', 'not the password');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('.form-error:not([hidden])');
  check((await page.textContent('.form-error')).includes('Wrong user name or password'), 'a wrong password is said so');
  await shot(page, 'signin');
  // The 401 of that failed sign-in is the browser's own console error: expected, not the console's.
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('401')));
  await page.fill('#password', PW);
  await page.click('#signin-form button[type=submit]');
  await page.waitForURL(/\/incidents\/inc-b05$/);
  await page.waitForSelector('#timeline');
  check(true, 'signing in follows the deep link to the incident');
  await page.context().close();

  // ---- each role: the queue as in the database, and only what it may ----
  const total = Number(sql('SELECT count(*) FROM incidents'));
  const newest = sql('SELECT incident_id FROM incidents ORDER BY detected_at DESC, incident_id DESC LIMIT 1');
  for (const role of ROLES) {
    page = await newPage(role);
    await signin(page, role);
    const got = await queueIds(page);
    const want = sql('SELECT string_agg(incident_id, \' \' ORDER BY detected_at DESC, incident_id DESC) FROM incidents').split(' ');
    check(JSON.stringify(got) === JSON.stringify(want), `${role}: the queue holds the ${total} incidents of the database, newest first`);
    check((await page.textContent('[data-count=all] b')) === String(total), `${role}: the "all" count is ${total}`);
    check(got[0] === newest, `${role}: newest first`);
    check((await page.textContent('.role')) === role, `${role}: the header names the role`);
    await page.goto(`${BASE}/incidents/inc-b05`);
    await page.waitForSelector('#timeline');
    const triage = ['analyst', 'responder', 'admin'].includes(role);
    const respond = ['responder', 'admin'].includes(role);
    const reveal = role !== 'viewer';
    check(!!(await page.$('#controls')) === triage, `${role}: triage controls ${triage ? 'shown' : 'hidden'}`);
    check(!!(await page.$('#reveal')) === reveal, `${role}: reveal ${reveal ? 'offered' : 'not offered'}`);
    check(!!(await page.$('[data-action-id] .approve')) === respond, `${role}: approve ${respond ? 'offered' : 'not offered'}`);
    const masked = (await page.$$('#evidence .masked')).length;
    check(masked === 3, `${role}: the 3 prompts are masked (${masked}: ${await page.textContent('#evidence')})`);
    check(!(await page.textContent('#evidence')).includes('Repeat the training'), `${role}: no content before a reveal`);
    if (role === 'viewer') await shot(page, 'incident-viewer');
    await page.context().close();
  }

  // ---- the analyst: filters, keyboard, incident, reveal, close ----
  page = await newPage('analyst');
  await signin(page, 'analyst');
  await shot(page, 'queue');
  await Promise.all([page.waitForURL(/severity=high/), page.selectOption('select[name=severity]', 'high')]);
  await page.waitForFunction(() => {
    const rs = [...document.querySelectorAll('#rows tr[data-incident-id]')];
    return rs.length > 0 && rs.every((r) => r.classList.contains('sevrow-high'));
  });
  const high = sql("SELECT string_agg(incident_id, ' ' ORDER BY detected_at DESC, incident_id DESC) FROM incidents WHERE severity = 'high'").split(' ');
  check(JSON.stringify(await queueIds(page)) === JSON.stringify(high), `the severity filter is in the URL and shows the ${high.length} high incidents of the database`);
  await Promise.all([page.waitForURL(/type=leakage/), page.selectOption('select[name=type]', 'leakage')]);
  await page.waitForFunction(() => [...document.querySelectorAll('#rows tr[data-incident-id]')].length <= 2);
  const hl = sql("SELECT coalesce(string_agg(incident_id, ' ' ORDER BY detected_at DESC), '') FROM incidents WHERE severity = 'high' AND type = 'leakage'");
  await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-incident-id]').length === n || (n === 0 && document.querySelector('.state-empty')), hl ? hl.split(' ').length : 0);
  check((await queueIds(page)).join(' ') === hl, 'two filters together, from the URL');
  await page.click('#save-view');
  await answer(page, { name: 'high leaks' });
  await page.waitForSelector('#views a.on');
  check((await page.textContent('#views a.on')) === 'high leaks', 'a view is saved and marked as the current one');
  await shot(page, 'queue-filtered');
  await page.goBack();
  await page.waitForURL((u) => u.search === '?severity=high');
  await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-incident-id]').length === n, high.length);
  check((await page.inputValue('select[name=type]')) === '' && (await page.inputValue('select[name=severity]')) === 'high', 'back restores the previous filters');
  await page.click('#views a');
  await page.waitForURL((u) => u.search === '?severity=high&type=leakage');
  check(true, 'a saved view opens its filters');
  await page.goto(`${BASE}/?severity=high&type=leakage`);
  await page.waitForSelector('select[name=type]');
  check((await page.inputValue('select[name=type]')) === 'leakage', 'a link with filters reproduces the view');
  await page.goto(`${BASE}/`);
  await page.waitForSelector('tr[data-incident-id]');
  // keyboard: j moves, x selects, ? lists the shortcuts, / searches, Enter opens
  await page.keyboard.press('j');
  const second = (await queueIds(page))[1];
  check(await page.$eval(`tr[data-incident-id="${second}"]`, (r) => r.classList.contains('cursor')), 'j moves to the next incident');
  await page.keyboard.press('x');
  check(await page.$eval(`tr[data-incident-id="${second}"]`, (r) => r.classList.contains('selected')), 'x selects it');
  await page.waitForSelector('#bulk.on #selected-count');
  await page.keyboard.press('?');
  await page.waitForSelector('#dialog[open] #shortcuts');
  await shot(page, 'shortcuts');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#dialog:not([open])', { state: 'attached' });
  await page.keyboard.press('/');
  check(await page.evaluate(() => document.activeElement.id === 'search'), '/ focuses the search');
  await page.keyboard.press('Escape');

  // live: a new incident arrives while a row is selected; the selection stays
  sql(`INSERT INTO incidents (incident_id, type, severity, status, api_key_id, first_seen, detected_at, last_seen,
         alerts, atlas, owasp, summary, doc, tenant)
       VALUES ('inc-live', 'probing', 'critical', 'open', 'key-9', now(), now(), now(), 1, '{AML.T0051}', '{LLM01}',
               'arrived while the analyst worked', '{}', 'acme')`);
  await page.waitForSelector('tr[data-incident-id="inc-live"]', { timeout: 60000 });
  check((await queueIds(page))[0] === 'inc-live', 'the new incident arrives live, on top');
  check(await page.$eval(`tr[data-incident-id="${second}"]`, (r) => r.classList.contains('selected') && r.querySelector('input').checked), 'the selection stayed');
  check(await page.$eval(`tr[data-incident-id="${second}"]`, (r) => r.classList.contains('cursor')), 'the keyboard row stayed');
  check((await page.textContent('[data-count=all] b')) === String(total + 1), 'the counts follow');
  await shot(page, 'queue-live-selected');
  // bulk: a second row selected, both assigned to me in one call
  await page.keyboard.press('j');
  const shown = await queueIds(page);
  const third = shown[shown.indexOf(second) + 1];
  check(await page.$eval(`tr[data-incident-id="${third}"]`, (r) => r.classList.contains('cursor')), 'j again moves on');
  await page.keyboard.press('x');
  await page.waitForSelector('#bulk.on #selected-count');
  check((await page.textContent('#selected-count')) === '2 selected', 'two incidents selected');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/incidents/bulk') && r.status() === 200),
    page.click('#bulk button:has-text("Assign to me")'),
  ]);
  check(sql(`SELECT string_agg(coalesce(assignee, '-'), ' ' ORDER BY incident_id) FROM incidents WHERE incident_id IN ('${second}', '${third}')`) === 'analyst analyst',
    'bulk "assign to me" assigns both in the database');
  await page.waitForFunction((id) => document.querySelector(`tr[data-incident-id="${id}"]`).textContent.includes('analyst'), third);
  check(await page.$eval(`tr[data-incident-id="${third}"]`, (r) => r.classList.contains('selected')), 'the selection survives the refresh');
  await page.keyboard.press('k');
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/incidents/${second}$`));
  check(true, 'Enter opens the incident');
  await page.goBack();
  await page.waitForSelector('tr[data-incident-id]');

  // the incident: its timeline matches its rows
  await openIncident(page, 'inc-b05');
  const tl = await page.$$eval('#timeline tbody tr', (rs) => rs.map((r) => r.dataset.kind));
  const want = sql(`SELECT string_agg(k, ' ' ORDER BY at, ord, id) FROM (
      SELECT detected_at AS at, 0 AS ord, 0::bigint AS id, 'detected' AS k FROM incidents WHERE incident_id = 'inc-b05'
      UNION ALL SELECT ts, 1, id, 'alert' FROM alerts WHERE incident_id = 'inc-b05'
      UNION ALL SELECT created_at, 2, id, 'action_proposed' FROM actions WHERE incident_id = 'inc-b05'
      UNION ALL SELECT at, 5, id, 'update' FROM incident_updates WHERE incident_id = 'inc-b05'
      UNION ALL SELECT at, 6, id, 'comment' FROM incident_comments WHERE incident_id = 'inc-b05') t`);
  check(tl.join(' ') === want, `the timeline shows the incident's rows in order (${want})`);
  check((await page.$$('#alerts [data-alert-id]')).length === Number(sql("SELECT count(*) FROM alerts WHERE incident_id = 'inc-b05'")), 'every alert is listed');
  await page.waitForSelector('#related ul.related li[data-incident-id]');
  const rel = await page.$$eval('#related ul.related', (uls) => [...uls[0].querySelectorAll('li')].map((l) => l.dataset.incidentId));
  const relWant = sql("SELECT string_agg(incident_id, ' ' ORDER BY detected_at DESC, incident_id DESC) FROM (SELECT * FROM incidents WHERE api_key_id = 'key-1' AND incident_id <> 'inc-b05' ORDER BY detected_at DESC, incident_id DESC LIMIT 10) i");
  check(rel.join(' ') === relWant, 'related incidents: the same key\'s, from the database');
  await shot(page, 'incident');

  // reveal with a reason: the content, as text, and the audit row
  await page.click('#reveal');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/reveal') && r.status() === 200),
    answer(page, { reason: 'ticket 42: is key-1 extracting?' }),
  ]);
  await page.waitForSelector('#revealed');
  const prompt = await page.textContent('#evidence pre.prompt');
  check(prompt.includes('<img src=x onerror=alert(1)>'), 'the prompt is shown, its markup as text');
  check((await page.$$('#evidence img, #evidence script, #evidence b')).length === 0, 'no markup of the prompt became elements');
  check((await page.textContent('#evidence pre.prompt mark')).trim() === 'Repeat the training example number', 'the matched rule span is highlighted');
  const folded = prompt.length;
  await page.click('#evidence .show-more');
  check((await page.textContent('#evidence pre.prompt')).length > folded, 'a long prompt unfolds with "show more"');
  const audit = sql("SELECT actor || '|' || (detail::jsonb->>'reason') FROM audit_log WHERE event = 'content_revealed' AND incident_id = 'inc-b05'");
  check(audit === 'analyst|ticket 42: is key-1 extracting?', 'the reveal is in the audit chain with its reason');
  await shot(page, 'incident-revealed');

  // comment, then close as false positive with a reason
  await page.click('#comment');
  await answer(page, { text: 'load test from the perf team?' });
  await page.waitForSelector('#timeline tr[data-kind=comment]');
  check(sql("SELECT body FROM incident_comments WHERE incident_id = 'inc-b05'") === 'load test from the perf team?', 'the comment is stored and on the timeline');
  await page.click('#close');
  await page.waitForSelector('#dialog[open] form');
  await page.click('#dialog button[type=submit]'); // empty: refused by the form
  check(await page.$('#dialog[open]') !== null, 'closing without disposition and reason is refused');
  await answer(page, { disposition: 'false_positive', reason: 'the weekly load test of the perf team' });
  await page.waitForSelector('#inc-head .st-closed');
  check(sql("SELECT status || '|' || disposition || '|' || close_reason || '|' || closed_by FROM incidents WHERE incident_id = 'inc-b05'") ===
    'closed|false_positive|the weekly load test of the perf team|analyst', 'closed as false positive with the reason, by the analyst');
  await page.context().close();

  // ---- the responder approves the pending containment ----
  page = await newPage('responder');
  await signin(page, 'responder');
  await page.goto(`${BASE}/incidents/inc-b05`);
  const aid = sql("SELECT id FROM actions WHERE incident_id = 'inc-b05' AND kind = 'revoke_key'");
  await page.waitForSelector(`[data-action-id="${aid}"][data-state=pending_approval] .approve`);
  await shot(page, 'incident-pending-approval');
  await page.click(`[data-action-id="${aid}"] .approve`);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/actions/${aid}/approve`) && r.status() === 200),
    answer(page, {}),
  ]);
  await page.waitForSelector(`[data-action-id="${aid}"]:not([data-state=pending_approval])`);
  check(sql("SELECT status || ' ' || (revoked_at IS NOT NULL) FROM api_keys WHERE key_id = 'key-1'") === 'revoked true', 'approving revokes the key in api_keys');
  check(sql(`SELECT decided_by FROM actions WHERE id = ${aid}`) === 'responder', 'decided by the responder');
  execFileSync(process.env.CUSTOS_BIN, ['audit', 'verify', '--log-level', 'warn'], { env: { ...process.env, CUSTOS_POSTGRES_DSN: DSN } });
  check(true, 'custos audit verify passes');
  await page.waitForSelector('#timeline tr[data-kind=action_decided]');
  await shot(page, 'incident-approved');

  // reject another pending action, with a reason
  await page.goto(`${BASE}/incidents/inc-b10`);
  const rid = sql("SELECT id FROM actions WHERE incident_id = 'inc-b10'");
  await page.click(`[data-action-id="${rid}"] .reject`);
  await page.waitForSelector('#dialog[open] form');
  await page.click('#dialog button[type=submit]');
  check(await page.$('#dialog[open]') !== null, 'rejecting without a reason is refused');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/actions/${rid}/reject`) && r.status() === 200),
    answer(page, { reason: 'a known benign load test' }),
  ]);
  await page.waitForSelector(`[data-action-id="${rid}"][data-state=rejected]`);
  check(sql(`SELECT state || '|' || decided_by || '|' || decision_reason FROM actions WHERE id = ${rid}`) === 'rejected|responder|a known benign load test',
    'the rejection is recorded with its reason');

  // the timeline exported as CSV: one line per row, a header
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csv = readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
  const nrows = await page.$$eval('#timeline tbody tr', (rs) => rs.length);
  check(csv[0] === 'at,kind,actor,what' && csv.length === nrows + 1, `the timeline exports as CSV (${nrows} rows)`);

  // ---- my sessions, sign-out, an ended session ----
  await page.click('a[href="/sessions"]');
  await page.waitForSelector('tr[data-session-id]');
  await shot(page, 'sessions');
  await page.click('#signout');
  await page.waitForURL(/\/signin/);
  check(sql("SELECT count(*) FROM web_sessions s JOIN web_users u USING (user_id) WHERE u.username = 'responder' AND s.ended_reason = 'signout'") === '1', 'sign-out ends the session on the server');
  await page.context().close();

  page = await newPage('admin');
  await signin(page, 'admin');
  sql("UPDATE web_sessions SET ended_at = now(), ended_reason = 'test' WHERE ended_at IS NULL AND user_id = (SELECT user_id FROM web_users WHERE username = 'admin')");
  // The next call the page makes meets the ended session: the click on "My
  // sessions", or the queue's own refresh if it comes first (the stream's
  // opening asks for one; on a busy machine it can win). Either must say so.
  const link = await page.$('a[href="/sessions"]');
  if (link) await link.click({ timeout: 5000 }).catch(() => {});
  await page.waitForSelector('.state-error a[href="/signin"]');
  check((await page.textContent('.state-error')).includes('session has ended'), 'an ended session is said so, with a way to sign in');
  await shot(page, 'session-ended');
  problems.splice(0, problems.length, ...problems.filter((p) => !(p.startsWith('admin console error') && p.includes('401'))));
  await page.context().close();

  // ---- the server goes away under an open console: it says so ----
  page = await newPage('analyst');
  await signin(page, 'analyst');
  process.kill(Number(process.env.SERVER_PID), 'SIGTERM');
  await page.waitForSelector('#live.off', { timeout: 60000 });
  check((await page.textContent('#live')).includes('reconnecting'), 'the live queue says it is reconnecting');
  check((await page.$$('#rows tr[data-incident-id]')).length > 0, 'the rows already shown stay');
  await page.click('a[href="/sessions"]');
  await page.waitForSelector('.state-error');
  check((await page.textContent('.state-error')).includes('cannot reach the custos server'), 'a page whose data cannot be read says the server cannot be reached');
  check(!!(await page.$('.state-error button')), 'and offers to try again');
  await shot(page, 'server-down');
  // The failed requests of a stopped server are the browser's own errors: expected here
  // (refused connections once it has stopped; the live stream ends cleanly).
  problems.splice(0, problems.length, ...problems.filter((p) => !(p.startsWith('analyst console error') &&
    p.includes('ERR_CONNECTION_REFUSED'))));
  await page.context().close();

  check(a11y.length === 0, `axe-core finds no serious or critical violation on any page${a11y.length ? ': ' + a11y.join(' | ') : ''}`);
  check(problems.length === 0, `no console error and no CSP violation on any page${problems.length ? ': ' + problems.join(' | ') : ''}`);
  console.log('screenshots:\n' + shots.join('\n'));
  console.log('BROWSER PASS');
} catch (e) {
  console.error(e.stack || String(e));
  if (page && !page.isClosed()) {
    await page.screenshot({ path: `${ART}/failure.png` }).catch(() => {});
    console.error(`at ${page.url()}; screenshot ${ART}/failure.png`);
  }
  if (problems.length) console.error('console problems:', problems.join(' | '));
  process.exitCode = 1;
} finally {
  await browser.close();
}
