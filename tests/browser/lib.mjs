// What the browser tests share: psql, checks, a page that records console
// errors and CSP violations, axe-core over a page, screenshots at the two
// sizes, sign-in and dialog answers. Every wait is on a selector, a URL or
// a response, never a fixed sleep.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const BASE = process.env.BASE;
export const PW = process.env.PW;
export const ART = process.env.ART;
export const DSN = process.env.DSN;
export const SIZES = [[1280, 800], [1920, 1080]];

export const sql = (q) => execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', DSN, '-c', q],
  { encoding: 'utf8' }).trim();
export const log = (...a) => console.log('[browser]', ...a);
export function check(cond, what) {
  if (!cond) throw new Error(`FAIL: ${what}`);
  log('ok:', what);
}

export const problems = []; // console errors, page errors, CSP violations: none allowed
export const a11y = []; // axe-core's serious and critical violations: none allowed
export const shots = [];
const AXE = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

export const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });

export async function newPage(role) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'Europe/Paris' });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${role} console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${role} page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

// axe-core run through the DevTools protocol, as the test's code: the
// page's CSP holds.
export async function axe(page, name) {
  await page.evaluate(AXE);
  const bad = await page.evaluate(async () => {
    const r = await window.axe.run(document);
    if (!r.passes.length) return ['axe checked nothing'];
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}) x${v.nodes.length}: ${v.nodes[0].target.join(' ')}`)
      .concat(r.violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical').map((v) => `minor:${v.id}`));
  });
  const minor = bad.filter((b) => b.startsWith('minor:'));
  if (minor.length) log(`axe, ${name}: minor/moderate: ${minor.join(' ')}`);
  bad.splice(0, bad.length, ...bad.filter((b) => !b.startsWith('minor:')));
  if (bad.length) a11y.push(`${name}: ${bad.join('; ')}`);
}

export async function shot(page, name) {
  await axe(page, name);
  for (const [w, hgt] of SIZES) {
    await page.setViewportSize({ width: w, height: hgt });
    const path = `${ART}/${name}-${w}x${hgt}.png`;
    await page.screenshot({ path });
    shots.push(path);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

export async function signin(page, user) {
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/signin/);
  await page.fill('#username', user);
  await page.fill('#password', PW);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST'),
    page.click('#signin-form button[type=submit]'),
  ]);
  await page.waitForSelector('tr[data-incident-id]');
}

// A dialog's form: fill what is given, submit.
export async function answer(page, fields) {
  await page.waitForSelector('#dialog[open] form');
  for (const [name, v] of Object.entries(fields)) {
    const el = await page.$(`#dialog [name="${name}"]`);
    if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(v);
    else await el.fill(v);
  }
  await page.click('#dialog button[type=submit]');
}
