// The custos console: one page, deep links, vanilla DOM. Every text that
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
const VIEWS = 'custos.views'; // saved views: {name: query string}, in this browser

function savedViews() {
  try { return JSON.parse(localStorage.getItem(VIEWS) || '{}') || {}; } catch (e) { return {}; }
}

const me = { user: null, role: null, csrf: null };
let lastQueue = '/';
let view = null; // the current page's teardown and keyboard handler
let gen = 0; // bumped at each navigation: a page's late answer for an older one is dropped

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

function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  let rel;
  if (s < 45) rel = 'just now';
  else if (s < 3600) rel = `${Math.round(s / 60)} min ago`;
  else if (s < 86400) rel = `${Math.round(s / 3600)} h ago`;
  else if (s < 86400 * 30) rel = `${Math.round(s / 86400)} d ago`;
  else rel = d.toISOString().slice(0, 10);
  return h('time', { datetime: iso, title: d.toISOString().replace('.000Z', 'Z') + ' UTC' }, rel);
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

function ids(i) {
  const out = [];
  for (const a of i.atlas || []) out.push(h('span', { class: 'tag tag-atlas', title: 'MITRE ATLAS' }, a));
  for (const o of i.owasp || []) out.push(h('span', { class: 'tag tag-owasp', title: 'OWASP LLM Top 10' }, o));
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
  nav.append(h('a', { href: lastQueue, 'data-link': true, class: 'nav-queue' }, 'Queue'),
    h('a', { href: '/sessions', 'data-link': true }, 'My sessions'));
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
  if (path === '/sessions') return pageSessions(main);
  const m = path.match(/^\/incidents\/([A-Za-z0-9._:@-]+)$/);
  if (m) return pageIncident(main, decodeURIComponent(m[1]));
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

// ---- sign-in ----

function pageSignin(main) {
  document.body.dataset.page = 'signin';
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'signin', id: 'signin-form' },
    h('h1', {}, 'Sign in to custos'),
    h('label', { class: 'field' }, h('span', {}, 'User name'),
      h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true })),
    h('label', { class: 'field' }, h('span', {}, 'Password'),
      h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    err,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session',
        { username: form.elements.username.value, password: form.elements.password.value });
      Object.assign(me, { user: s.user, role: s.role, csrf: s.csrf_token });
      localStorage.setItem(SIGNED_IN, '1');
      form.elements.password.value = '';
      const next = new URLSearchParams(location.search).get('next');
      go(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/signin') ? next : '/', true);
    } catch (e) {
      err.textContent = e.status === 401 ? 'Wrong user name or password.'
        : e.status === 429 ? 'Too many failed attempts: wait a moment and try again.'
          : e.status === 0 ? 'The custos server cannot be reached.' : e.message;
      err.hidden = false;
      btn.disabled = false;
    }
  });
  main.replaceChildren(h('div', { class: 'signin-wrap' }, form));
  form.elements.username.focus();
}

// ---- my sessions ----

async function pageSessions(main) {
  document.body.dataset.page = 'sessions';
  main.replaceChildren(h('h1', {}, 'My sessions'), h('p', { class: 'state' }, 'Loading…'));
  let data;
  const g = gen;
  try { data = await api('GET', '/api/v1/sessions'); } catch (e) {
    if (g !== gen) return;
    main.replaceChildren(h('h1', {}, 'My sessions'), explain(e, 'your sessions'));
    return;
  }
  if (g !== gen) return;
  const rows = data.sessions.map((s) => h('tr', { 'data-session-id': s.id },
    h('td', { class: 'num' }, s.id), h('td', {}, when(s.created_at)), h('td', {}, when(s.last_seen_at)),
    h('td', {}, localTime(s.expires_at)), h('td', { class: 'mono' }, s.address || '—'),
    h('td', { class: 'ua' }, s.user_agent || '—'),
    h('td', {}, s.current ? h('span', { class: 'tag' }, 'this one')
      : h('button', { type: 'button', class: 'btn btn-small', onclick: async () => {
        try { await api('DELETE', `/api/v1/sessions/${s.id}`); toast(`Session ${s.id} ended`); render(); } catch (e) { toast(e.message, true); }
      } }, 'End'))));
  main.replaceChildren(h('h1', {}, 'My sessions'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, ['#', 'Started', 'Last seen', 'Expires', 'Address', 'Browser'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'End')))),
      h('tbody', {}, rows)));
}

// ---- the queue ----

function queueFilters() {
  const p = new URLSearchParams(location.search);
  const f = {};
  for (const k of FILTERS) if (p.get(k)) f[k] = p.get(k);
  return f;
}

function filterQuery(f, extra) {
  const p = new URLSearchParams();
  for (const k of FILTERS) if (f[k]) p.set(k, f[k]);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p.toString();
}

function pageQueue(main) {
  document.body.dataset.page = 'queue';
  lastQueue = location.pathname + location.search;
  renderChrome();
  const f = queueFilters();
  const selected = new Set();
  const rowsById = new Map();
  let cursor = null; // the keyboard's row (an incident id)
  let next = null;
  let timer = null;
  let stopped = false;

  const setFilter = (k, v) => {
    const nf = { ...queueFilters() };
    if (v) nf[k] = v; else delete nf[k];
    const q = filterQuery(nf);
    go('/' + (q ? '?' + q : ''));
  };

  const select = (name, label, values) => h('label', { class: 'filter' }, h('span', {}, label),
    h('select', { name, onchange: (ev) => setFilter(name, ev.target.value) },
      h('option', { value: '' }, 'any'),
      values.map((v) => h('option', { value: v, selected: f[name] === v }, v.replace('_', ' ')))));
  const text = (name, label, ph) => {
    const i = h('input', { name, type: 'search', value: f[name] || '', placeholder: ph, size: 9 });
    i.addEventListener('change', () => setFilter(name, i.value.trim()));
    return h('label', { class: 'filter' }, h('span', {}, label), i);
  };
  const search = h('input', { id: 'search', name: 'q', type: 'search', value: f.q || '',
    placeholder: 'Search summaries  ( / )', 'aria-label': 'Search summaries', size: 22 });
  search.addEventListener('change', () => setFilter('q', search.value.trim()));
  // The time range: a window back from now, kept in the URL as since=.
  const RANGES = [['1h', 3600], ['24h', 86400], ['7d', 7 * 86400], ['30d', 30 * 86400]];
  const range = h('select', { name: 'range', onchange: (ev) => {
    const r = RANGES.find(([k]) => k === ev.target.value);
    setFilter('since', r ? new Date(Date.now() - r[1] * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : '');
  } }, h('option', { value: '' }, 'any time'), RANGES.map(([k]) => h('option', { value: k }, `last ${k}`)),
  f.since ? h('option', { value: 'custom', selected: true }, `since ${f.since.replace('T', ' ').replace('Z', ' UTC')}`) : null);
  const filters = h('form', { class: 'filters', id: 'filters', onsubmit: (ev) => ev.preventDefault() },
    search, h('label', { class: 'filter' }, h('span', {}, 'Detected'), range), select('status', 'Status', STATUSES), select('severity', 'Severity', SEVERITIES),
    select('type', 'Type', TYPES), select('disposition', 'Disposition', DISPOSITIONS),
    text('tenant', 'Tenant', 'any'), text('api_key', 'Key', 'any'), text('assignee', 'Assignee', 'any'),
    Object.keys(f).length ? h('div', { class: 'filter-actions' }, h('a', { href: '/', 'data-link': true, class: 'clear' }, 'Clear filters'), h('button', { type: 'button', class: 'btn btn-small', id: 'save-view', onclick: async () => {
      const v = await ask('Save this view', [{ name: 'name', label: 'Name', required: true, max: 60 }], 'Save', 'Saved views are kept in this browser.');
      if (!v) return;
      const all = savedViews();
      all[v.name] = filterQuery(f);
      localStorage.setItem(VIEWS, JSON.stringify(all));
      render();
    } }, 'Save view…')) : null);
  const views = Object.entries(savedViews());
  const viewBar = views.length ? h('nav', { class: 'views', id: 'views', 'aria-label': 'Saved views' }, h('span', { class: 'muted' }, 'Views:'),
    views.map(([name, q]) => h('span', { class: 'view' },
      h('a', { href: '/?' + q, 'data-link': true, class: q === filterQuery(f) ? 'on' : '' }, name),
      h('button', { type: 'button', class: 'btn-x', 'aria-label': `Forget the view ${name}`, title: 'forget', onclick: () => {
        const all = savedViews(); delete all[name]; localStorage.setItem(VIEWS, JSON.stringify(all)); render();
      } }, '×')))) : null;

  const counts = h('div', { class: 'counts', id: 'counts', role: 'group', 'aria-label': 'Incidents per status' });
  const bulk = h('div', { class: 'bulk', id: 'bulk' });
  const tbody = h('tbody', { id: 'rows' });
  const cols = ['', 'Type', 'Severity', 'Subject', 'Tenant', 'First seen', 'Last seen', 'Alerts',
    'Status', 'Disposition', 'Assignee', 'ATLAS / OWASP'];
  const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all shown', onchange: (ev) => {
    for (const id of rowsById.keys()) if (ev.target.checked) selected.add(id); else selected.delete(id);
    for (const [id, tr] of rowsById) mark(id, tr);
    showBulk();
  } });
  const table = h('table', { class: 'grid queue', id: 'queue' },
    h('thead', {}, h('tr', {}, cols.map((c, i) => h('th', { scope: 'col' }, i === 0 ? allBox : c)))), tbody);
  const state = h('div', { class: 'state', id: 'queue-state' }, 'Loading incidents…');
  const more = h('button', { type: 'button', class: 'btn', id: 'more', hidden: true, onclick: () => load(true) }, 'Load more');
  const live = h('span', { class: 'live', id: 'live', title: 'new and changed incidents arrive by themselves' }, 'live');
  main.replaceChildren(h('div', { class: 'queue-head' }, h('h1', {}, 'Incidents'), counts, live), filters, viewBar || '', bulk, table, state, more);
  showBulk();

  function mark(id, tr) {
    const on = selected.has(id);
    tr.classList.toggle('selected', on);
    tr.setAttribute('aria-selected', on ? 'true' : 'false');
    tr.querySelector('input[type=checkbox]').checked = on;
  }

  function row(i) {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${i.incident_id}`, onchange: () => toggle(i.incident_id) });
    const link = h('a', { href: `/incidents/${encodeURIComponent(i.incident_id)}`, 'data-link': true, class: 'type' }, i.type);
    const tr = h('tr', { 'data-incident-id': i.incident_id, 'data-status': i.status, class: `row sevrow-${i.severity}` },
      h('td', { class: 'pick' }, box),
      h('td', { class: 'main-cell' }, link, h('div', { class: 'summary', title: i.summary || '' }, i.summary || '')),
      h('td', {}, sevBadge(i.severity)),
      h('td', {}, subject(i)),
      h('td', {}, i.tenant || h('span', { class: 'muted' }, '—')),
      h('td', {}, when(i.first_seen)),
      h('td', {}, when(i.last_seen)),
      h('td', { class: 'num' }, i.alert_count ?? '—'),
      h('td', {}, statusBadge(i.status)),
      h('td', {}, i.disposition ? i.disposition.replace('_', ' ') : h('span', { class: 'muted' }, '—')),
      h('td', {}, i.assignee || h('span', { class: 'muted', title: 'unassigned' }, '—')),
      h('td', { class: 'ids' }, ids(i)));
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a, input, button')) return;
      setCursor(i.incident_id);
    });
    tr.addEventListener('dblclick', () => go(`/incidents/${encodeURIComponent(i.incident_id)}`));
    return tr;
  }

  function put(i, where) {
    const old = rowsById.get(i.incident_id);
    const tr = row(i);
    rowsById.set(i.incident_id, tr);
    if (old) old.replaceWith(tr);
    else if (where === 'top') tbody.prepend(tr);
    else tbody.append(tr);
    mark(i.incident_id, tr);
    if (cursor === i.incident_id) tr.classList.add('cursor');
    return tr;
  }

  function toggle(id) {
    if (selected.has(id)) selected.delete(id); else selected.add(id);
    const tr = rowsById.get(id);
    if (tr) mark(id, tr);
    showBulk();
  }

  function setCursor(id) {
    if (cursor && rowsById.get(cursor)) rowsById.get(cursor).classList.remove('cursor');
    cursor = id;
    const tr = rowsById.get(id);
    if (tr) { tr.classList.add('cursor'); tr.scrollIntoView({ block: 'nearest' }); }
  }

  function move(d) {
    const list = [...rowsById.keys()].filter((id) => rowsById.get(id).isConnected);
    list.sort((a, b) => rowsById.get(a).rowIndex - rowsById.get(b).rowIndex);
    if (!list.length) return;
    const at = list.indexOf(cursor);
    setCursor(list[Math.max(0, Math.min(list.length - 1, at < 0 ? 0 : at + d))]);
  }

  function showBulk() {
    bulk.replaceChildren();
    bulk.classList.toggle('on', selected.size > 0);
    if (!selected.size) {
      bulk.append(h('span', { class: 'muted' }, 'Select incidents (x or the boxes) to change them together · ? for shortcuts'));
      return;
    }
    bulk.append(h('span', { id: 'selected-count' }, `${selected.size} selected`));
    if (can(TRIAGE)) {
      bulk.append(
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => bulkDo('take') }, 'Assign to me'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => bulkDo('status') }, 'Set status…'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => bulkDo('close') }, 'Close…'));
    }
    bulk.append(h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => {
      selected.clear(); for (const [id, tr] of rowsById) mark(id, tr); showBulk();
    } }, 'Clear selection'));
  }

  async function bulkDo(what) {
    let body = null;
    if (what === 'status') {
      const v = await ask(`Status of ${selected.size} incidents`, [{ name: 'status', label: 'Status', options: STATUSES.filter((s) => s !== 'closed'), required: true },
        { name: 'reason', label: 'Reason (optional)', long: true }], 'Apply');
      if (!v) return;
      body = { status: v.status };
      if (v.reason) body.reason = v.reason;
    } else if (what === 'close') {
      const v = await ask(`Close ${selected.size} incidents`, [{ name: 'disposition', label: 'Disposition', options: DISPOSITIONS, required: true },
        { name: 'reason', label: 'Reason', long: true, required: true }], 'Close them');
      if (!v) return;
      body = { status: 'closed', disposition: v.disposition, reason: v.reason };
    }
    if (what === 'take') body = { assignee: me.user };
    // One call (POST /api/v1/incidents/bulk, at most 100 ids): each incident
    // changes in its own transaction and answers for itself.
    const all = [...selected];
    let ok = 0; const bad = [];
    for (let at = 0; at < all.length; at += 100) {
      try {
        const res = await api('POST', '/api/v1/incidents/bulk', { ids: all.slice(at, at + 100), ...body });
        for (const r of res.results) {
          if (r.error) bad.push(`${r.incident_id}: ${r.error.message}`);
          else ok++;
        }
      } catch (e) { bad.push(e.message); }
    }
    toast(bad.length ? `${ok} changed; refused: ${bad.join('; ')}` : `${ok} incidents changed`, bad.length > 0);
    refresh();
  }

  function showCounts(c) {
    if (!c) return;
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    counts.replaceChildren(
      h('a', { href: '/?' + filterQuery({ ...f, status: '' }), 'data-link': true, class: f.status ? 'count' : 'count on', 'data-count': 'all' },
        'all ', h('b', {}, total)),
      ...STATUSES.filter((s) => c[s] !== undefined || s === f.status).map((s) =>
        h('a', { href: '/?' + filterQuery({ ...f, status: s }), 'data-link': true, class: f.status === s ? 'count on' : 'count', 'data-count': s },
          `${s} `, h('b', {}, c[s] || 0))));
  }

  async function load(append) {
    const q = filterQuery(f, append && next ? { cursor: next, limit: PAGE } : { limit: PAGE });
    if (!append) state.textContent = 'Loading incidents…';
    more.disabled = true;
    try {
      const page = await api('GET', `/api/v1/incidents?${q}`);
      if (stopped) return;
      if (!append) showCounts(page.counts);
      for (const i of page.incidents) put(i, 'bottom');
      next = page.next_cursor;
      more.hidden = !next;
      more.disabled = false;
      if (!rowsById.size) {
        state.replaceChildren(h('p', {}, Object.keys(f).length ? 'No incident matches these filters.' : 'No incidents yet: the queue is empty.'),
          Object.keys(f).length ? h('a', { href: '/', 'data-link': true }, 'Clear filters') : '');
        state.className = 'state state-empty';
      } else { state.textContent = ''; state.className = 'state'; }
      if (!cursor && !append && rowsById.size) setCursor(tbody.firstElementChild.dataset.incidentId);
      schedule();
    } catch (e) {
      if (stopped) return;
      state.replaceChildren(explain(e, 'the incident queue'));
      state.className = 'state';
      live.classList.add('off');
    }
  }

  // Live: the first page again, merged in place: new incidents on top,
  // changed ones replaced where they are; the scroll, the selection, the
  // keyboard's row and the filters stay as they are.
  async function refresh() {
    clearTimeout(timer);
    try {
      const page = await api('GET', `/api/v1/incidents?${filterQuery(f, { limit: PAGE })}`);
      if (stopped) return;
      live.classList.remove('off');
      live.textContent = 'live';
      showCounts(page.counts);
      const fresh = page.incidents.filter((i) => !rowsById.has(i.incident_id));
      const before = document.documentElement.scrollHeight;
      for (const i of page.incidents) if (rowsById.has(i.incident_id)) put(i);
      for (const i of fresh.reverse()) put(i, 'top').classList.add('arrived');
      if (fresh.length && window.scrollY > 0) window.scrollBy(0, document.documentElement.scrollHeight - before);
      if (rowsById.size && state.classList.contains('state-empty')) { state.textContent = ''; state.className = 'state'; }
    } catch (e) {
      if (stopped) return;
      if (e.status === 401) { state.replaceChildren(explain(e, 'the incident queue')); return; }
      live.classList.add('off');
      live.textContent = 'live: reconnecting';
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(refresh, LIVE_MS);
  }

  view = {
    stop: () => { stopped = true; clearTimeout(timer); },
    key: (ev) => {
      if (ev.key === 'j') move(1);
      else if (ev.key === 'k') move(-1);
      else if (ev.key === 'Enter' && cursor) go(`/incidents/${encodeURIComponent(cursor)}`);
      else if (ev.key === 'x' && cursor) toggle(cursor);
      else if (ev.key === '/') { ev.preventDefault(); search.focus(); }
      else if (ev.key === 'a' && cursor && can(TRIAGE)) {
        api('POST', `/api/v1/incidents/${encodeURIComponent(cursor)}/take`).then(() => { toast(`${cursor} assigned to you`); refresh(); }, (e) => toast(e.message, true));
      } else return;
      ev.preventDefault();
    },
  };
  load(false);
}

// ---- one incident ----

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true }, name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  // A cell that a spreadsheet would run as a formula is quoted as text.
  const t = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
  return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

// The text of full up to n characters, with the rule spans ([start, end)
// in UTF-8 bytes, from the alerts' evidence) marked: text nodes and <mark>
// elements only, never markup from the text.
function marked(full, spans, n) {
  const out = [];
  const bytes = new TextEncoder().encode(full);
  const dec = new TextDecoder();
  const cuts = spans.map(([a, b, why]) => [dec.decode(bytes.slice(0, a)).length, dec.decode(bytes.slice(0, b)).length, why])
    .filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let at = 0;
  for (const [a, b, why] of cuts) {
    if (a < at || a >= n) continue;
    out.push(document.createTextNode(full.slice(at, a)));
    out.push(h('mark', { title: why }, full.slice(a, Math.min(b, n))));
    at = Math.min(b, n);
  }
  out.push(document.createTextNode(full.slice(at, n) + (n < full.length ? '…' : '')));
  return out;
}

function folded(text, cls, spans = []) {
  const full = text ?? '';
  if (full === '') return h('pre', { class: `${cls} empty` }, text === null || text === undefined ? '(not stored)' : '(empty)');
  const pre = h('pre', { class: cls }, marked(full, spans, Math.min(full.length, FOLD)));
  if (full.length <= FOLD) return pre;
  const btn = h('button', { type: 'button', class: 'btn btn-small btn-quiet show-more', 'aria-expanded': 'false' }, `show more (${full.length} characters)`);
  btn.addEventListener('click', () => {
    const open = btn.getAttribute('aria-expanded') === 'true';
    pre.replaceChildren(...marked(full, spans, open ? FOLD : full.length));
    btn.setAttribute('aria-expanded', open ? 'false' : 'true');
    btn.textContent = open ? `show more (${full.length} characters)` : 'show less';
  });
  return h('div', {}, pre, btn);
}

async function pageIncident(main, id) {
  document.body.dataset.page = 'incident';
  renderChrome();
  main.replaceChildren(h('p', { class: 'state' }, `Loading incident ${id}…`));
  let inc;
  const g = gen;
  try { inc = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`); } catch (e) {
    if (g !== gen) return;
    main.replaceChildren(explain(e, `incident ${id}`));
    return;
  }
  if (g !== gen) return;
  let revealed = null;
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const reload = () => pageIncident(main, id);
  const act = async (fn, done) => {
    try { await fn(); toast(done); reload(); } catch (e) { toast(`${e.message}`, true); }
  };

  // header
  const header = h('section', { class: 'inc-head', id: 'inc-head' },
    h('a', { href: lastQueue, 'data-link': true, class: 'back' }, '← Queue'),
    h('div', { class: 'inc-title' },
      h('h1', {}, h('span', { class: 'inc-type' }, inc.type), ' ', h('span', { class: 'mono inc-id' }, inc.incident_id)),
      sevBadge(inc.severity), statusBadge(inc.status),
      inc.disposition ? h('span', { class: 'tag', id: 'disposition' }, inc.disposition.replace('_', ' ')) : null),
    h('p', { class: 'inc-summary' }, inc.summary || ''),
    h('dl', { class: 'facts' },
      fact('Subject', subject(inc)), fact('Tenant', inc.tenant || '—'),
      fact('Assignee', h('span', { id: 'assignee' }, inc.assignee || 'unassigned')),
      fact('First seen', localTime(inc.first_seen)), fact('Last seen', localTime(inc.last_seen)),
      fact('Alerts', String(inc.alert_count ?? (inc.alerts || []).length)), fact('ATLAS / OWASP', ids(inc))),
    inc.closed_at ? h('p', { class: 'closed-note', id: 'closed-note' }, 'Closed ', localTime(inc.closed_at), ` by ${inc.closed_by || '?'}`,
      inc.disposition ? ` as ${inc.disposition.replace('_', ' ')}` : '', ': ', h('q', {}, inc.close_reason || '')) : null);

  // triage controls
  let controls = null;
  if (can(TRIAGE)) {
    const statusSel = h('select', { id: 'status-select', 'aria-label': 'New status' },
      STATUSES.filter((s) => s !== 'closed' || inc.status === 'closed').map((s) =>
        h('option', { value: s, selected: s === inc.status, disabled: s === 'closed' }, s === 'closed' ? 'closed (reopen to…)' : s)));
    controls = h('section', { class: 'controls', id: 'controls', 'aria-label': 'Triage' },
      h('button', { type: 'button', class: 'btn', id: 'take', onclick: () => act(() => api('POST', `${path}/take`), 'Assigned to you') }, 'Take'),
      h('span', { class: 'group' }, statusSel,
        h('button', { type: 'button', class: 'btn', id: 'set-status', onclick: () => act(() => api('PATCH', path, { status: statusSel.value }), `Status: ${statusSel.value}`) }, 'Set status')),
      h('button', { type: 'button', class: 'btn', id: 'disposition-btn', onclick: async () => {
        const v = await ask('Disposition', [{ name: 'disposition', label: 'Disposition', options: DISPOSITIONS, required: true, value: inc.disposition },
          { name: 'reason', label: 'Reason', long: true, required: true }], 'Set');
        if (v) act(() => api('PATCH', path, v), 'Disposition set');
      } }, 'Disposition…'),
      inc.status !== 'closed' ? h('button', { type: 'button', class: 'btn btn-danger', id: 'close', onclick: async () => {
        const v = await ask(`Close ${inc.incident_id}`, [{ name: 'disposition', label: 'Disposition', options: DISPOSITIONS, required: true },
          { name: 'reason', label: 'Reason', long: true, required: true, max: 10000 }], 'Close incident', 'Closing needs a disposition and a reason; both are audited.');
        if (v) act(() => api('PATCH', path, { status: 'closed', disposition: v.disposition, reason: v.reason }), 'Incident closed');
      } }, 'Close…') : null,
      h('button', { type: 'button', class: 'btn', id: 'comment', onclick: async () => {
        const v = await ask('Comment', [{ name: 'text', label: 'Comment', long: true, required: true, max: 10000 }], 'Add comment');
        if (v) act(() => api('POST', `${path}/comments`, { text: v.text }), 'Comment added');
      } }, 'Comment…'));
  } else {
    controls = h('p', { class: 'muted', id: 'readonly' }, `Your role (${me.role}) reads incidents; it does not change them.`);
  }

  // containment
  const actions = h('section', { class: 'panel', id: 'actions' }, h('h2', {}, 'Containment'));
  if (!(inc.actions || []).length) actions.append(h('p', { class: 'muted' }, 'No action proposed.'));
  for (const a of inc.actions || []) {
    const pending = a.state === 'pending_approval';
    const item = h('div', { class: `action action-${a.state}`, 'data-action-id': a.id, 'data-state': a.state },
      h('div', {}, h('b', {}, a.kind), ' ', h('span', { class: 'mono' }, a.subject || ''), ' ',
        h('span', { class: `status st-${pending ? 'escalated' : 'closed'}` }, a.state.replace('_', ' '))),
      h('div', { class: 'muted' }, `proposed by ${a.actor || '?'} `, when(a.created_at),
        a.playbook ? ` · playbook ${a.playbook}` : '', a.dry_run ? ' · dry run' : '',
        a.decided_by ? ` · decided by ${a.decided_by}${a.decision_reason ? ': ' + a.decision_reason : ''}` : '',
        a.error ? ` · error: ${a.error}` : ''));
    if (pending && can(RESPOND)) {
      item.append(h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'btn btn-primary approve', onclick: async () => {
          if (!await ask(`Approve: ${a.kind} ${a.subject || ''}`, [], 'Approve and run', 'It runs at once through the playbooks\' effectors, audited with you as the actor.')) return;
          act(() => api('POST', `/api/v1/actions/${a.id}/approve`), `Action ${a.id} approved`);
        } }, 'Approve'),
        h('button', { type: 'button', class: 'btn reject', onclick: async () => {
          const v = await ask(`Reject: ${a.kind} ${a.subject || ''}`, [{ name: 'reason', label: 'Reason', long: true, required: true }], 'Reject');
          if (v) act(() => api('POST', `/api/v1/actions/${a.id}/reject`, { reason: v.reason }), `Action ${a.id} rejected`);
        } }, 'Reject…')));
    } else if (pending) item.append(h('p', { class: 'muted' }, 'Waiting for a responder\'s decision.'));
    actions.append(item);
  }

  // alerts: why each fired
  const alerts = h('section', { class: 'panel', id: 'alerts' }, h('h2', {}, `Alerts (${(inc.alerts || []).length})`),
    (inc.alerts || []).map((a) => h('div', { class: 'alert', 'data-alert-id': a.id },
      sevBadge(a.severity), ' ', h('b', {}, a.type), ' ', localTime(a.at), h('div', { class: 'why' }, a.summary || ''),
      a.evidence && a.evidence.rule_id ? h('div', { class: 'muted mono' }, `rule ${a.evidence.rule_id}`) : null)));

  // timeline
  const tl = inc.timeline || [];
  const timeline = h('section', { class: 'panel', id: 'timeline' },
    h('div', { class: 'panel-head' }, h('h2', {}, `Timeline (${tl.length})`),
      h('button', { type: 'button', class: 'btn btn-small', id: 'export-json', onclick: () => download(`${inc.incident_id}-timeline.json`, 'application/json', JSON.stringify(tl, null, 2)) }, 'Export JSON'),
      h('button', { type: 'button', class: 'btn btn-small', id: 'export-csv', onclick: () => download(`${inc.incident_id}-timeline.csv`, 'text/csv',
        ['at,kind,actor,what', ...tl.map((t) => [t.at, t.kind, t.actor, t.what].map(csvCell).join(','))].join('\r\n') + '\r\n') }, 'Export CSV')),
    h('table', { class: 'grid timeline' }, h('thead', {}, h('tr', {}, ['When', 'What', 'Who', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, tl.map((t) => h('tr', { 'data-kind': t.kind, class: `tl-${t.kind}` },
        h('td', { class: 'when' }, localTime(t.at)), h('td', {}, h('span', { class: 'kind' }, t.kind.replace('_', ' '))),
        h('td', {}, t.actor || ''), h('td', { class: 'what' }, t.what || ''))))));

  // evidence
  const evidence = h('section', { class: 'panel', id: 'evidence' });
  // The rule spans of an event's field, from its alerts' evidence.
  const spansOf = (eventId, field) => (inc.alerts || [])
    .filter((a) => a.event_id === eventId && a.evidence && a.evidence.field === field &&
      Number.isInteger(a.evidence.start) && Number.isInteger(a.evidence.end))
    .map((a) => [a.evidence.start, a.evidence.end, `${a.evidence.rule_id || 'rule'}: ${a.summary || ''}`]);
  const drawEvidence = () => {
    const evs = revealed ? revealed.events : inc.events || [];
    const head = h('div', { class: 'panel-head' }, h('h2', {}, `Evidence (${evs.length} events)`));
    if (!revealed && can(REVEAL) && evs.length)
      head.append(h('button', { type: 'button', class: 'btn btn-small', id: 'reveal', onclick: async () => {
        const v = await ask('Reveal prompts and responses', [{ name: 'reason', label: 'Why you need to read them', long: true, required: true }], 'Reveal',
          'The content is attacker-written and may be sensitive. Your reason is kept in the audit chain.');
        if (!v) return;
        try { revealed = await api('POST', `${path}/reveal`, { reason: v.reason }); drawEvidence(); toast('Content revealed (audited)'); } catch (e) { toast(e.message, true); }
      } }, 'Reveal content…'));
    if (revealed) head.append(h('span', { class: 'tag tag-revealed', id: 'revealed' }, 'revealed: this reading is audited'));
    const list = evs.map((e) => h('article', { class: 'event', 'data-event-id': e.event_id },
      h('div', { class: 'event-meta' }, localTime(e.ts), ' ', h('span', { class: 'mono' }, e.api_key_id || ''), ' ',
        e.model ? h('span', { class: 'mono' }, `${e.model}@${e.model_version || '?'}`) : null,
        ` · ${e.prompt_tokens ?? '?'} → ${e.completion_tokens ?? '?'} tokens`,
        e.refusal ? h('span', { class: 'tag' }, 'refused') : null, e.stored ? null : h('span', { class: 'tag' }, 'not stored')),
      revealed
        ? h('div', { class: 'content' }, h('div', { class: 'label' }, 'Prompt', e.prompt_truncated ? ' (truncated at capture)' : ''), folded(e.prompt, 'prompt', spansOf(e.event_id, 'prompt')),
          h('div', { class: 'label' }, 'Response', e.response_truncated ? ' (truncated at capture)' : ''), folded(e.response, 'response', spansOf(e.event_id, 'response')))
        : h('div', { class: 'masked' }, can(REVEAL) ? 'Prompt and response hidden: reveal them with a reason.' : `Prompt and response hidden: the ${me.role} role cannot read content.`)));
    evidence.replaceChildren(head, ...(evs.length ? list : [h('p', { class: 'muted' }, 'No evidence event recorded.')]));
  };
  drawEvidence();

  // related: the same key (or model version), then the same tenant
  const related = h('section', { class: 'panel', id: 'related' }, h('h2', {}, 'Related incidents'), h('p', { class: 'muted' }, 'Loading…'));
  const relQuery = inc.api_key_id ? { api_key: inc.api_key_id } : inc.model ? { model: inc.model, version: inc.model_version || '' } : null;
  const relLabel = inc.api_key_id ? `same key ${inc.api_key_id}` : inc.model ? `same model ${inc.model}@${inc.model_version || '?'}` : '';
  (async () => {
    const lists = [];
    try {
      if (relQuery) lists.push([relLabel, relQuery]);
      if (inc.tenant) lists.push([`same tenant ${inc.tenant}`, { tenant: inc.tenant }]);
      const out = [];
      for (const [label, q] of lists) {
        const page = await api('GET', `/api/v1/incidents?${filterQuery(q, { limit: 11 })}`);
        const others = page.incidents.filter((o) => o.incident_id !== inc.incident_id).slice(0, 10);
        out.push(h('h3', {}, `${label} (${others.length}${page.next_cursor ? '+' : ''})`),
          others.length ? h('ul', { class: 'related' }, others.map((o) => h('li', { 'data-incident-id': o.incident_id },
            h('a', { href: `/incidents/${encodeURIComponent(o.incident_id)}`, 'data-link': true }, o.type), ' ', sevBadge(o.severity), ' ',
            statusBadge(o.status), ' ', when(o.detected_at))))
            : h('p', { class: 'muted' }, 'none'),
          h('a', { href: '/?' + filterQuery(q), 'data-link': true, class: 'small' }, 'all in the queue'));
      }
      if (g !== gen) return;
      related.replaceChildren(h('h2', {}, 'Related incidents'), ...(out.length ? out : [h('p', { class: 'muted' }, 'No key, model or tenant to relate by.')]));
    } catch (e) {
      if (g !== gen) return;
      related.replaceChildren(h('h2', {}, 'Related incidents'), h('p', { class: 'muted' }, `Could not be loaded: ${e.message}`));
    }
  })();

  main.replaceChildren(header, controls, h('div', { class: 'inc-body' },
    h('div', { class: 'col-main' }, timeline, evidence), h('div', { class: 'col-side' }, actions, alerts, related)));
  document.title = `${inc.incident_id} · custos`;
  view = { key: (ev) => { if (ev.key === 'Escape' || ev.key === 'u') go(lastQueue); } };
}

render();
