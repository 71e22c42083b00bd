// The custos console: one page, deep links, vanilla DOM. The files of
// web/console/app/ are joined in name order into one module, app.js, at build
// time (web/console/embed.cmake): they share one scope, this file first. Every text that
// comes from the API (and so possibly from an attacker: prompts, responses,
// key ids, summaries) goes into the page as a text node, never as markup:
// h() below makes text nodes of strings, and nothing here uses innerHTML.

const TRIAGE = ['analyst', 'responder', 'admin'];
const RESPOND = ['responder', 'admin'];
const REVEAL = ['analyst', 'responder', 'auditor', 'admin'];
const STATUSES = ['open', 'investigating', 'escalated', 'contained', 'resolved', 'closed'];
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
const TYPES = ['extraction', 'probing', 'drift', 'leakage', 'flood'];
const DISPOSITIONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];
const SEV_MARK = { critical: '■■■■', high: '■■■□', medium: '■■□□', low: '■□□□' };
const FILTERS = ['status', 'severity', 'type', 'disposition', 'tenant', 'api_key', 'model',
  'version', 'assignee', 'q', 'since', 'until'];
const PAGE = 50;
const LIVE_MS = 4000;
const FOLD = 400;
const SIGNED_IN = 'custos.signed_in';

const me = { user: null, role: null, csrf: null };
let lastQueue = '/';
let view = null; // the current page's teardown and keyboard handler
let gen = 0; // bumped at each navigation: a page's late answer for an older one is dropped

// The pages other than the queue (the default) and sign-in, each added by
// its own file in web/console/app/ with page(): the path it answers (a
// RegExp whose groups are passed to render), and, for those in the
// navigation bar, the link's label and target and its place (order, lower
// first). roles limits who may open it.
const PAGES = [];
function page(name, path, render, opts = {}) {
  PAGES.push({ name, path, render, nav: opts.nav, href: opts.href, roles: opts.roles,
    order: opts.order ?? 50 });
  PAGES.sort((a, b) => a.order - b.order);
}

// ---- DOM ----

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (sel, root = document) => root.querySelector(sel);
const can = (list) => list.includes(me.role);

// "5 min ago", from now; a <time> that when() made can be brought up to
// date in place with it (the queue keeps its unchanged rows)
function relTime(iso) {
  const d = new Date(iso);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.round(s / 86400)} d ago`;
  return d.toISOString().slice(0, 10);
}

function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toISOString().replace('.000Z', 'Z') + ' UTC', class: 'rel' }, relTime(iso));
}

function localTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toISOString() + ' UTC' },
    d.toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit',
      minute: '2-digit', second: '2-digit', hour12: false }));
}

function sevBadge(sev) {
  return h('span', { class: `sev sev-${sev}`, title: `severity: ${sev}` },
    h('span', { class: 'sev-mark', 'aria-hidden': 'true' }, SEV_MARK[sev] || ''), ` ${sev}`);
}

function statusBadge(st) {
  return h('span', { class: `status st-${st}` }, st);
}

function subject(i) {
  if (i.api_key_id) return h('span', { class: 'mono' }, i.api_key_id);
  if (i.model) return h('span', { class: 'mono' }, `${i.model}@${i.model_version || '?'}`);
  return h('span', { class: 'muted' }, '—');
}

// The ATLAS and OWASP ids of an incident; their names (from the API:
// atlas_names, owasp_names) on hover, or beside the id when full is set
// (the incident's header).
function ids(i, full) {
  const out = [];
  const one = (id, name, cls, what) => {
    const title = name ? `${what} ${id}: ${name}` : `${what} ${id}`;
    if (!full) return h('span', { class: `tag ${cls}`, title }, id);
    return h('span', { class: 'id-named', title }, h('span', { class: `tag ${cls}` }, id),
      name ? h('span', { class: 'id-name' }, name) : null);
  };
  for (const a of i.atlas || []) out.push(one(a, (i.atlas_names || {})[a], 'tag-atlas', 'MITRE ATLAS'));
  for (const o of i.owasp || []) out.push(one(o, (i.owasp_names || {})[o], 'tag-owasp', 'OWASP LLM Top 10'));
  return out.length ? out : h('span', { class: 'muted' }, '—');
}

function banner(text, withSignin) {
  const b = $('#banner');
  b.replaceChildren(h('span', {}, text));
  if (withSignin) b.append(' ', h('a', { href: '/signin', 'data-link': true }, 'Sign in'));
  b.hidden = false;
}

function clearBanner() { $('#banner').hidden = true; }

// ---- the API ----

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && me.csrf) headers['X-CSRF-Token'] = me.csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', 'The custos server cannot be reached.');
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || 'http', err.message || `HTTP ${res.status}`);
  }
  return data;
}

// What a failed call means for the analyst, said once, with a way on.
function explain(e, where) {
  if (e.status === 401) {
    me.user = me.role = me.csrf = null;
    localStorage.removeItem(SIGNED_IN);
    renderChrome();
    return h('div', { class: 'state state-error', role: 'alert' },
      h('p', {}, 'Your session has ended (signed out, idle too long, or changed by an admin).'),
      h('a', { class: 'btn', href: '/signin', 'data-link': true }, 'Sign in again'));
  }
  if (e.status === 0 || e.status === 503)
    return h('div', { class: 'state state-error', role: 'alert' },
      h('p', {}, `The console cannot reach ${e.status ? 'the database' : 'the custos server'} now: ${where} could not be loaded.`),
      h('button', { class: 'btn', type: 'button', onclick: () => render() }, 'Try again'));
  if (e.status === 404)
    return h('div', { class: 'state state-error', role: 'alert' }, h('p', {}, `Not found: ${e.message}`),
      h('a', { href: lastQueue, 'data-link': true }, 'Back to the queue'));
  return h('div', { class: 'state state-error', role: 'alert' },
    h('p', {}, `${where}: ${e.message} (${e.code})`));
}

// ---- live: Server-Sent Events (GET /api/v1/stream) ----

const STREAM_RETRY_MS = 15000;

// One EventSource for the page that asks (closed by its view.stop). The
// browser reconnects by itself with Last-Event-ID after a network error;
// when the server refuses the stream (401, 503: the EventSource closes) it
// is tried again every STREAM_RETRY_MS. onState('open' | 'reconnecting')
// tells the page when to fall back to polling.
function liveStream({ onIncident, onAction, onReset, onState }) {
  let es = null; let closed = false; let retry = null;
  const parse = (fn) => (ev) => {
    let d = null;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    if (fn) fn(d, ev.lastEventId);
  };
  const connect = () => {
    if (closed) return;
    es = new EventSource('/api/v1/stream', { withCredentials: true });
    es.addEventListener('open', () => { if (!closed) onState('open'); });
    es.addEventListener('incident', parse(onIncident));
    es.addEventListener('action', parse(onAction));
    es.addEventListener('reset', parse(onReset));
    es.addEventListener('error', () => {
      if (closed) return;
      onState('reconnecting');
      if (es.readyState === EventSource.CLOSED) { clearTimeout(retry); retry = setTimeout(connect, STREAM_RETRY_MS); }
    });
  };
  connect();
  return { close: () => { closed = true; clearTimeout(retry); if (es) es.close(); } };
}

// ---- navigation ----

function go(url, replace) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render());
document.addEventListener('keydown', (ev) => {
  if (!view || !view.key) return;
  const t = ev.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) {
    if (ev.key === 'Escape') t.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey || $('#dialog').open) return;
  if (ev.key === '?') { ev.preventDefault(); shortcuts(); return; }
  view.key(ev);
});

function renderChrome() {
  const nav = $('#nav');
  const who = $('#who');
  nav.replaceChildren();
  who.replaceChildren();
  if (!me.user) return;
  nav.append(h('a', { href: lastQueue, 'data-link': true, class: 'nav-queue' }, 'Queue'));
  for (const p of PAGES)
    if (p.nav && (!p.roles || can(p.roles)))
      nav.append(h('a', { href: p.href, 'data-link': true, class: `nav-${p.name}` }, p.nav));
  who.append(h('span', { class: 'me' }, h('span', { class: 'me-user' }, me.user), ' ',
    h('span', { class: 'role', 'data-role': me.role }, me.role)),
  h('button', { type: 'button', class: 'btn btn-quiet', id: 'signout', onclick: signout }, 'Sign out'));
}

async function render() {
  if (view && view.stop) view.stop();
  view = null;
  const g = ++gen;
  clearBanner();
  const path = location.pathname;
  const main = $('#main');
  if (!me.user && path !== '/signin') {
    // Nobody signed in from this browser: straight to the sign-in page,
    // without a request that can only answer 401. (A flag, not a secret:
    // the session is the HttpOnly cookie.)
    if (!localStorage.getItem(SIGNED_IN)) {
      history.replaceState(null, '', '/signin?next=' + encodeURIComponent(path + location.search));
      return render();
    }
    try {
      const s = await api('GET', '/api/v1/session');
      if (g !== gen) return;
      Object.assign(me, { user: s.user, role: s.role, csrf: s.csrf_token });
    } catch (e) {
      if (e.status === 401) {
        localStorage.removeItem(SIGNED_IN);
        history.replaceState(null, '', '/signin?next=' + encodeURIComponent(path + location.search));
        return render();
      }
      renderChrome();
      main.replaceChildren(explain(e, 'your session'));
      return;
    }
  }
  renderChrome();
  document.body.dataset.page = '';
  document.title = 'custos console';
  if (path === '/signin') return pageSignin(main);
  for (const p of PAGES) {
    const m = path.match(p.path);
    if (!m) continue;
    if (p.roles && !can(p.roles)) {
      main.replaceChildren(h('div', { class: 'state state-error', role: 'alert' },
        h('p', {}, `The ${me.role} role cannot open this page.`),
        h('a', { href: lastQueue, 'data-link': true }, 'Back to the queue')));
      return;
    }
    return p.render(main, ...m.slice(1).map(decodeURIComponent));
  }
  return pageQueue(main);
}

async function signout() {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { /* ended already */ }
  me.user = me.role = me.csrf = null;
  localStorage.removeItem(SIGNED_IN);
  go('/signin');
}

// ---- dialogs ----

// Opens the dialog with a form; resolves with its values, or null.
function ask(title, fields, submitLabel, note) {
  const d = $('#dialog');
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'ask' },
      h('h2', {}, title),
      note ? h('p', { class: 'muted' }, note) : null,
      fields.map((f) => h('label', { class: 'field' }, h('span', {}, f.label),
        f.options
          ? h('select', { name: f.name, required: f.required }, h('option', { value: '' }, '—'),
            f.options.map((o) => h('option', { value: o, selected: o === f.value }, o.replace('_', ' '))))
          : f.long
            ? h('textarea', { name: f.name, rows: 3, required: f.required, maxlength: f.max || 1000 })
            : h('input', { name: f.name, type: 'text', required: f.required, maxlength: f.max || 1000 }))),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'btn btn-quiet', value: 'cancel',
          onclick: () => { d.close(); resolve(null); } }, 'Cancel'),
        h('button', { type: 'submit', class: 'btn btn-primary', value: 'ok' }, submitLabel)));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const out = {};
      for (const f of fields) out[f.name] = form.elements[f.name].value.trim();
      if (fields.some((f) => f.required && !out[f.name])) return;
      d.close();
      resolve(out);
    });
    d.replaceChildren(form);
    d.addEventListener('cancel', () => resolve(null), { once: true });
    d.showModal();
    const first = form.querySelector('select, textarea, input');
    if (first) first.focus();
  });
}

function shortcuts() {
  const d = $('#dialog');
  const rows = [['j / k', 'next / previous incident'], ['Enter', 'open the incident'],
    ['x', 'select or unselect it'], ['a', 'assign it to me'], ['/', 'search'],
    ['?', 'this list'], ['Esc', 'leave a field, close a dialog']];
  d.replaceChildren(h('div', { class: 'ask', id: 'shortcuts' }, h('h2', {}, 'Keyboard shortcuts'),
    h('table', { class: 'keys' }, rows.map(([k, w]) => h('tr', {}, h('td', {}, h('kbd', {}, k)), h('td', {}, w)))),
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'btn', onclick: () => d.close() }, 'Close'))));
  d.showModal();
}

function toast(text, bad) {
  const t = h('div', { class: bad ? 'toast toast-bad' : 'toast', role: 'status' }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), 4000);
}
