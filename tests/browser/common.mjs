// What the browser tests share: a browser whose pages report console
// errors, page errors and CSP violations; axe-core's serious and critical
// findings; screenshots at both sizes; signing in; psql.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const SIZES = [[1280, 800], [1920, 1080]];

export function harness({ base, pw, art, dsn }) {
  const t = { problems: [], a11y: [], shots: [] };
  const AXE = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  t.sql = (q) => execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dsn, '-c', q],
    { encoding: 'utf8' }).trim();
  t.log = (...a) => console.log('[browser]', ...a);
  t.check = (cond, what) => {
    if (!cond) throw new Error(`FAIL: ${what}`);
    t.log('ok:', what);
  };
  t.start = async () => {
    t.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  };
  t.newPage = async (role) => {
    const ctx = await t.browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'Europe/Paris' });
    // Generous deadlines: on a loaded machine a sign-in (Argon2id) or a page
    // can take longer than playwright's 30 s default; a wait still ends on
    // the condition, not on the clock.
    ctx.setDefaultTimeout(120000);
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') t.problems.push(`${role} console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => t.problems.push(`${role} page error: ${e.message}`));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    return page;
  };
  // axe-core through the DevTools protocol (the test's code, not the page's:
  // the page's CSP holds).
  t.axe = async (page, name) => {
    await page.evaluate(AXE);
    const bad = await page.evaluate(async () => {
      const r = await window.axe.run(document);
      if (!r.passes.length) return ['axe checked nothing'];
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}) x${v.nodes.length}: ${v.nodes[0].target.join(' ')}`)
        .concat(r.violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical').map((v) => `minor:${v.id}`));
    });
    const minor = bad.filter((b) => b.startsWith('minor:'));
    if (minor.length) t.log(`axe, ${name}: minor/moderate: ${minor.join(' ')}`);
    const serious = bad.filter((b) => !b.startsWith('minor:'));
    if (serious.length) t.a11y.push(`${name}: ${serious.join('; ')}`);
  };
  t.shot = async (page, name) => {
    await t.axe(page, name);
    for (const [w, hgt] of SIZES) {
      await page.setViewportSize({ width: w, height: hgt });
      const path = `${art}/${name}-${w}x${hgt}.png`;
      await page.screenshot({ path, fullPage: false });
      t.shots.push(path);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  };
  t.signin = async (page, user) => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/signin/);
    await page.fill('#username', user);
    await page.fill('#password', pw);
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST'),
      page.click('#signin-form button[type=submit]'),
    ]);
    await page.waitForSelector('tr[data-incident-id]');
  };
  t.answer = async (page, fields) => {
    await page.waitForSelector('#dialog[open] form');
    for (const [name, v] of Object.entries(fields)) {
      const el = await page.$(`#dialog [name="${name}"]`);
      if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(v);
      else await el.fill(v);
    }
    await page.click('#dialog button[type=submit]');
  };
  return t;
}
