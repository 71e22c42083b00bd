// The approvals, keys and models pages in chromium against the server and
// database containment.sh started; every result checked with psql.
// Prints "BROWSER PASS" at the end.
import { execFileSync } from 'node:child_process';
import { harness } from './common.mjs';

const BASE = process.env.BASE;
const ART = process.env.ART;
const DSN = process.env.DSN;
const t = harness({ base: BASE, pw: process.env.PW, art: ART, dsn: DSN });
const { sql, check, problems, a11y, shots, newPage, shot, signin, answer } = t;
await t.start();
const browser = t.browser;

const verify = () => execFileSync(process.env.CUSTOS_BIN, ['audit', 'verify', '--log-level', 'warn'],
  { env: { ...process.env, CUSTOS_POSTGRES_DSN: DSN } });
const rowIds = (page, sel, attr) => page.$$eval(sel, (rs, a) => rs.map((r) => r.getAttribute(a)), attr);

let page = null;
try {
  // ---- the responder: the approval queue ----
  page = await newPage('responder');
  await signin(page, 'responder');
  await page.click('#nav a[href="/approvals"]');
  await page.waitForURL(/\/approvals$/);
  await page.waitForSelector('#approval-rows tr[data-action-id]');
  const want = sql("SELECT string_agg(id::text, ' ' ORDER BY created_at, id) FROM actions WHERE state = 'pending_approval'").split(' ');
  check((await rowIds(page, '#approval-rows tr', 'data-action-id')).join(' ') === want.join(' '),
    `the Approvals page lists the ${want.length} pending actions of the database, oldest first`);
  const rb = sql("SELECT id FROM actions WHERE kind = 'rollback_model' AND state = 'pending_approval'");
  const first = await page.textContent(`tr[data-action-id="${rb}"] .expiry`);
  check(/min/.test(first) && (await page.$(`tr[data-action-id="${rb}"].soon`)) !== null, `the rollback expiring in 8 minutes is marked as soon (${first})`);
  await page.waitForFunction(([id, t]) => document.querySelector(`tr[data-action-id="${id}"] .expiry`).textContent !== t, [rb, first]);
  check(true, 'the expiry clock counts down live');
  check((await page.textContent(`tr[data-action-id="${rb}"] .will`)).includes('roll model chat-large back from v2 to previous'),
    'each row says what the action will do');
  await shot(page, 'containment-approvals');

  // approve the pending revocation of key-1
  const aid = sql("SELECT id FROM actions WHERE incident_id = 'inc-b05' AND kind = 'revoke_key'");
  await page.click(`tr[data-action-id="${aid}"] .approve`);
  await page.waitForSelector('#dialog[open] form');
  check((await page.textContent('#dialog')).includes('revoke key key-1'), 'the approval dialog says what will run');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/actions/${aid}/approve`) && r.status() === 200),
    answer(page, {}),
  ]);
  await page.waitForSelector(`tr[data-action-id="${aid}"]`, { state: 'detached' });
  check(sql("SELECT status || ' ' || (revoked_at IS NOT NULL) FROM api_keys WHERE key_id = 'key-1'") === 'revoked true', 'approving on the Approvals page revokes key-1 in api_keys');
  check(sql(`SELECT state || ' ' || decided_by FROM actions WHERE id = ${aid}`) === 'done responder', 'the action is done, decided by the responder');
  verify();
  check(true, 'custos audit verify passes after the approval');

  // reject the pending throttle of key-2, with a reason
  const tid = sql("SELECT id FROM actions WHERE incident_id = 'inc-b10' AND kind = 'throttle_key'");
  await page.click(`tr[data-action-id="${tid}"] .reject`);
  await page.waitForSelector('#dialog[open] form');
  await page.click('#dialog button[type=submit]');
  check(await page.$('#dialog[open]') !== null, 'rejecting without a reason is refused');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/actions/${tid}/reject`) && r.status() === 200),
    answer(page, { reason: 'key-2 is the nightly batch job' }),
  ]);
  await page.waitForSelector(`tr[data-action-id="${tid}"]`, { state: 'detached' });
  check(sql(`SELECT state || '|' || decision_reason FROM actions WHERE id = ${tid}`) === 'rejected|key-2 is the nightly batch job', 'the rejection and its reason are recorded');

  // a new pending action arrives live
  sql(`INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state, approval_required, expires_at, actor)
       VALUES ('inc-b01', 'throttle-probing', 'throttle_key', 'key-3', '{"key_id":"key-3","rps":0.5,"reason":"probing"}', 'live-1',
               'pending_approval', true, now() + interval '1 hour', 'playbook:throttle-probing')`);
  const live = sql("SELECT id FROM actions WHERE params_key = 'live-1'");
  await page.waitForSelector(`#approval-rows tr[data-action-id="${live}"]`, { timeout: 60000 });
  check((await rowIds(page, '#approval-rows tr', 'data-action-id')).at(-1) === live, 'a new pending action arrives live, last (the newest)');

  // ---- the keys: the list, one key, restore and revoke ----
  await page.click('#nav a[href="/keys"]');
  await page.waitForSelector('#key-rows tr[data-key-id]');
  const keys = sql("SELECT string_agg(k, ' ' ORDER BY k) FROM (SELECT key_id AS k FROM api_keys UNION SELECT api_key_id FROM incidents WHERE api_key_id IS NOT NULL) x");
  check((await rowIds(page, '#key-rows tr', 'data-key-id')).join(' ') === keys, `the Keys page lists the keys of the registry and the incidents (${keys})`);
  check((await page.getAttribute('tr[data-key-id="key-1"]', 'data-key-status')) === 'revoked', 'key-1 shows revoked');
  await shot(page, 'containment-keys');
  await page.click('tr[data-key-id="key-1"] a');
  await page.waitForSelector('#key-head');
  const n = sql("SELECT count(*) || ' requests, ' || sum(prompt_tokens + completion_tokens) || ' tokens' FROM interactions WHERE api_key_id = 'key-1' AND ts >= date_trunc('minute', now()) - interval '59 minutes'");
  check((await page.textContent('#traffic-sum')).startsWith(n), `the traffic of the last hour is the database's (${n})`);
  check((await page.$$('#traffic svg rect.bar')).length > 10, 'the traffic chart is drawn');
  check((await page.$$('#history-table tr[data-action-id]')).length === Number(sql("SELECT count(*) FROM actions WHERE subject = 'key-1' AND kind LIKE '%key'")), 'the status history lists the key\'s actions');
  check((await page.$$('#incidents li[data-incident-id]')).length === Number(sql("SELECT least(count(*), 50) FROM incidents WHERE api_key_id = 'key-1'")), 'the key\'s incidents are listed');
  await shot(page, 'containment-key-revoked');
  await page.click('#restore');
  await page.waitForSelector('#dialog[open] form');
  await page.click('#dialog button[type=submit]');
  check(await page.$('#dialog[open]') !== null, 'restoring without a reason is refused');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/keys/key-1/restore') && r.status() === 201),
    answer(page, { reason: 'ticket 7: the owner rotated the secret', incident_id: 'inc-b05' }),
  ]);
  await page.waitForSelector('#key-status:text("active")');
  check(sql("SELECT status FROM api_keys WHERE key_id = 'key-1'") === 'active', 'Restore on the key page restores key-1 in api_keys');
  check(sql("SELECT playbook || '|' || incident_id || '|' || decided_by FROM actions WHERE kind = 'restore_key' AND subject = 'key-1'") === 'manual|inc-b05|responder',
    'the restore is a manual action of the responder, tied to the incident');
  await page.click('#revoke');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/keys/key-1/revoke') && r.status() === 201),
    answer(page, { reason: 'ticket 8: extraction again', ttl: '3600 s (1 hour)' }),
  ]);
  await page.waitForSelector('#key-status:text("revoked")');
  check(sql("SELECT k.status || ' ' || (a.revert_at > now() + interval '3500 seconds') FROM api_keys k JOIN actions a ON a.id = k.action_id WHERE k.key_id = 'key-1'") === 'revoked true',
    'Revoke for 1 hour revokes key-1 and schedules its restore');
  const until = await page.$$eval('#key-head .fact', (fs) => fs.filter((f) => f.querySelector('dt').textContent === 'Until').map((f) => f.querySelector('dd time')?.getAttribute('datetime'))[0]);
  check(until && Math.abs(new Date(until) - new Date(sql("SELECT to_char(a.revert_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM api_keys k JOIN actions a ON a.id = k.action_id WHERE k.key_id = 'key-1'"))) < 1000,
    'the key page says until when (the revert of the revocation)');
  // a cancelled dialog changes nothing
  const before = sql('SELECT count(*) FROM actions');
  await page.click('#throttle');
  await page.waitForSelector('#dialog[open] form');
  await page.click('#dialog button.btn-quiet');
  await page.waitForSelector('#dialog:not([open])', { state: 'attached' });
  check(sql('SELECT count(*) FROM actions') === before, 'a cancelled throttle records nothing');
  verify();
  check(true, 'custos audit verify passes after the key changes');
  await shot(page, 'containment-key');

  // ---- the models: the list, one version, a rollback ----
  await page.click('#nav a[href="/models"]');
  await page.waitForSelector('#model-rows tr[data-version]');
  const versions = sql("SELECT string_agg(v, ' ' ORDER BY v) FROM (SELECT version AS v FROM model_deployments WHERE model = 'chat-large' UNION SELECT model_version FROM incidents WHERE model = 'chat-large') x");
  check((await rowIds(page, '#model-rows tr[data-model="chat-large"]', 'data-version')).sort().join(' ') === versions, `the Models page lists chat-large's versions (${versions})`);
  check((await page.getAttribute('tr[data-version="v2"] .drift-st', 'data-drift')) === 'drifting', 'v2 shows drifting');
  await shot(page, 'containment-models');
  await page.click('tr[data-version="v2"] a');
  await page.waitForSelector('#model-head');
  check((await page.$$('#psi tr[data-feature]')).length === 4 && (await page.textContent('#psi tr[data-feature="latency_ms"]')).includes('0.612'),
    'the drift panel shows the PSI per feature of the last alert');
  await shot(page, 'containment-model-version');
  await page.click('#rollback');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/models/chat-large/versions/v2/rollback') && r.status() === 201),
    answer(page, { reason: 'drift confirmed with the owners', incident_id: 'inc-b04' }),
  ]);
  await page.waitForSelector('#version-state:text("not active")');
  check(sql("SELECT version FROM model_deployments WHERE model = 'chat-large' AND active") === 'v1', 'the rollback makes v1 active in model_deployments');
  check(Number(sql("SELECT count(*) FROM evidence_records e JOIN actions a ON a.id = e.action_id WHERE a.kind = 'rollback_model' AND a.playbook = 'manual'")) === 1, 'the evidence was frozen first');
  await page.waitForSelector('#deployments tr[data-action-id]');
  await shot(page, 'containment-model-rolled-back');
  verify();
  check(true, 'custos audit verify passes after the rollback');
  await page.context().close();

  // ---- a viewer: the same pages, no containment ----
  page = await newPage('viewer');
  await signin(page, 'viewer');
  await page.goto(`${BASE}/approvals`);
  await page.waitForSelector('#approval-rows tr[data-action-id]');
  check((await page.$$('#approvals .approve, #approvals .reject')).length === 0, 'a viewer sees the queue without approve or reject');
  await page.goto(`${BASE}/keys/key-1`);
  await page.waitForSelector('#key-head');
  check(!(await page.$('#key-controls')) && !(await page.$('#revoke, #restore, #throttle, #unthrottle')), 'a viewer sees no containment button on a key');
  check(!!(await page.$('#readonly')), 'and is told why');
  await shot(page, 'containment-key-viewer');
  await page.goto(`${BASE}/models/chat-large/versions/v1`);
  await page.waitForSelector('#model-head');
  check(!(await page.$('#rollback')), 'a viewer sees no rollback button');
  // an incident marked serious (EU AI Act Art. 73) says in its header when its report is due
  sql(`INSERT INTO serious_incidents (incident_id, category, aware_at, deadline_at, marked_by)
       VALUES ('inc-b05', 'critical_infrastructure', now() - interval '1 day', now() + interval '1 day', 'analyst')`);
  await page.goto(`${BASE}/incidents/inc-b05`);
  await page.waitForSelector('#serious-note');
  const note = await page.textContent('#serious-note');
  check(/^Serious incident \(Art\. 73\(3\), critical infrastructure\): report due .+, in (1 d 0 h|23 h \d\d min)$/.test(note),
    `the incident header says when its Art. 73 report is due (${note})`);
  await shot(page, 'containment-serious-incident');
  await page.goto(`${BASE}/keys/no-such-key`);
  await page.waitForSelector('.state-error');
  check((await page.textContent('.state-error')).includes('Not found'), 'an unknown key says so');
  problems.splice(0, problems.length, ...problems.filter((p) => !(p.startsWith('viewer console error') && p.includes('404'))));
  await page.context().close();

  check(a11y.length === 0, `axe-core finds no serious or critical violation${a11y.length ? ': ' + a11y.join(' | ') : ''}`);
  check(problems.length === 0, `no console error and no CSP violation${problems.length ? ': ' + problems.join(' | ') : ''}`);
  console.log('screenshots:\n' + shots.join('\n'));
  console.log('BROWSER PASS');
} catch (e) {
  console.error(e.stack || String(e));
  if (page && !page.isClosed()) {
    await page.screenshot({ path: `${ART}/containment-failure.png` }).catch(() => {});
    console.error(`at ${page.url()}; screenshot ${ART}/containment-failure.png`);
  }
  if (problems.length) console.error('console problems:', problems.join(' | '));
  process.exitCode = 1;
} finally {
  await browser.close();
}
