// ---- API keys: the list, one key, its containment ----

// s(): the SVG element helper of 35_charts.js.

// "12.4k", "3.1M": a number that fits an axis label.
function short(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n * 10) / 10);
}

// The last hour per minute as a small chart of our own (inline SVG, no
// library): bars for one series, the other as a line on its own scale, a
// time axis every 15 minutes in the analyst's zone. points: the API's
// traffic.points; bar and line name their members.
function trafficChart(points, bar, line, title) {
  const W = 720, H = 150, L = 44, R = 48, T = 10, B = 22;
  const iw = W - L - R, ih = H - T - B;
  const n = points.length || 1;
  const bmax = Math.max(1, ...points.map((p) => p[bar]));
  const lmax = Math.max(1, ...points.map((p) => p[line]));
  const x = (i) => L + (i * iw) / n;
  const bw = Math.max(1, iw / n - 1);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'tchart', role: 'img', 'aria-label': title },
    s('title', {}, title));
  for (const f of [0, 0.5, 1]) {
    const y = T + ih - f * ih;
    svg.append(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'grid-line' }),
      s('text', { x: L - 4, y: y + 3, class: 'axis bar-axis', 'text-anchor': 'end' }, short(f * bmax)),
      s('text', { x: W - R + 4, y: y + 3, class: 'axis line-axis' }, short(f * lmax)));
  }
  points.forEach((p, i) => {
    const hgt = (p[bar] / bmax) * ih;
    if (p[bar] > 0) svg.append(s('rect', { x: x(i), y: T + ih - hgt, width: bw, height: hgt, class: 'bar' },
      s('title', {}, `${new Date(p.t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}: ${p[bar]} ${bar}, ${p[line]} ${line}`)));
    if (i % 15 === 0) svg.append(s('text', { x: x(i), y: H - 6, class: 'axis' },
      new Date(p.t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false })));
  });
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${(x(i) + bw / 2).toFixed(1)},${(T + ih - (p[line] / lmax) * ih).toFixed(1)}`).join(' ');
  if (points.length) svg.append(s('path', { d, class: 'line' }));
  return svg;
}

function trafficPanel(traffic, what) {
  const pts = (traffic && traffic.points) || [];
  const sum = (k) => pts.reduce((a, p) => a + (p[k] || 0), 0);
  const peak = Math.max(0, ...pts.map((p) => p.requests));
  return h('section', { class: 'panel', id: 'traffic' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Traffic, last 60 minutes'),
      h('span', { class: 'tlegend' }, h('span', { class: 'sw sw-bar', 'aria-hidden': 'true' }), 'requests/min (left) ',
        h('span', { class: 'sw sw-line', 'aria-hidden': 'true' }), 'tokens/min (right)')),
    trafficChart(pts, 'requests', 'tokens', `${what}: requests and tokens per minute over the last hour`),
    h('p', { class: 'muted small-text', id: 'traffic-sum' },
      `${sum('requests')} requests, ${sum('tokens')} tokens, ${sum('refusals')} refusals, ${sum('errors')} errors in the last hour; peak ${peak} requests/min.`));
}

function keyStatus(k) {
  const cls = k.status === 'revoked' ? 'st-escalated' : k.status === 'throttled' ? 'st-open' : 'st-resolved';
  return h('span', { class: `status key-st ${cls}`, 'data-key-status': k.status },
    k.status === 'throttled' && k.throttle_rps ? `throttled to ${k.throttle_rps} req/s` : k.status);
}

function untilText(k) {
  if (k.status === 'active') return h('span', { class: 'muted' }, '—');
  return k.until ? h('span', {}, 'until ', localTime(k.until))
    : h('span', { class: 'muted' }, k.status === 'revoked' ? 'until restored' : 'until lifted');
}

const TTLS = [['', 'until undone'], ['900', '15 minutes'], ['3600', '1 hour'], ['86400', '24 hours'], ['604800', '7 days']];

// Asks for what a containment needs, then posts it; resolves true when
// the action ran (whatever its final state, which the toast says).
async function contain(path, title, note, fields) {
  const v = await ask(title, [...fields, { name: 'incident_id', label: 'Incident (optional)', max: 64 },
    { name: 'reason', label: 'Reason (kept in the audit chain)', long: true, required: true }], 'Run it', note);
  if (!v) return false;
  const body = { reason: v.reason };
  if (v.incident_id) body.incident_id = v.incident_id;
  if (v.ttl) body.ttl_s = Number(v.ttl.split(' ')[0]);
  if (v.rps !== undefined) {
    const n = Number(v.rps);
    if (!(n >= 0.001 && n <= 1e6)) { toast('requests per second: a number from 0.001 to 1000000', true); return false; }
    body.rps = n;
  }
  if (v.to) body.to = v.to;
  try {
    const a = await api('POST', path, body);
    toast(`Action ${a.id}: ${a.state}${a.error ? ' — ' + a.error : ''}`, a.state !== 'done' && a.state !== 'dry_run');
    return true;
  } catch (e) { toast(e.message, true); return false; }
}

const ttlField = { name: 'ttl', label: 'For', options: TTLS.slice(1).map(([v, l]) => `${v} s (${l})`) };

function actionsTable(list, id) {
  if (!list.length) return h('p', { class: 'muted' }, 'No action yet.');
  return h('table', { class: 'grid history', id },
    h('thead', {}, h('tr', {}, ['#', 'Requested', 'Action', 'State', 'By', 'Reason', 'Incident'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, list.map((a) => h('tr', { 'data-action-id': a.id, 'data-state': a.state },
      h('td', { class: 'num' }, a.id), h('td', { class: 'nowrap' }, when(a.requested_at)),
      h('td', {}, h('b', {}, KIND_LABEL[a.kind] || a.kind), a.target && a.target.rps !== undefined ? ` to ${a.target.rps} req/s` : '',
        a.ttl_s ? h('span', { class: 'muted' }, ` · ${leftText(a.ttl_s * 1000)}`) : ''),
      h('td', {}, h('span', { class: `status st-${a.state === 'pending_approval' ? 'escalated' : a.state === 'failed' ? 'escalated' : 'closed'}` }, a.state.replace('_', ' ')),
        a.reverted_at ? h('span', { class: 'muted' }, ' · reverted') : ''),
      h('td', {}, a.playbook === 'manual' && a.decided_by === a.requested_by ? askedBy(a)
        : [a.decided_by ? h('div', {}, a.decided_by) : null, h('div', { class: a.decided_by ? 'muted small-text' : '' }, 'asked by ', askedBy(a))]),
      h('td', { class: 'reason' }, (a.params && a.params.reason) || a.decision_reason || '', a.error ? h('div', { class: 'form-error small-text' }, a.error) : null),
      h('td', { class: 'nowrap' }, a.incident_id ? h('a', { href: `/incidents/${encodeURIComponent(a.incident_id)}`, 'data-link': true, class: 'mono' }, a.incident_id) : h('span', { class: 'muted' }, '—'))))));
}

function incidentsPanel(list, more, link) {
  return h('section', { class: 'panel', id: 'incidents' }, h('h2', {}, `Incidents (${list.length}${more ? '+' : ''})`),
    list.length ? h('ul', { class: 'related' }, list.map((o) => h('li', { 'data-incident-id': o.incident_id },
      h('a', { href: `/incidents/${encodeURIComponent(o.incident_id)}`, 'data-link': true }, o.type), ' ', sevBadge(o.severity), ' ',
      statusBadge(o.status), ' ', when(o.detected_at), h('div', { class: 'muted small-text' }, o.summary || ''))))
      : h('p', { class: 'muted' }, 'No incident.'),
    more ? h('a', { href: link, 'data-link': true, class: 'small' }, 'all in the queue') : null);
}

async function pageKeys(main) {
  document.body.dataset.page = 'keys';
  document.title = 'Keys · custos';
  const p = new URLSearchParams(location.search);
  const f = { q: p.get('q') || '', status: p.get('status') || '' };
  const setF = (k, v) => { const n = { ...f, [k]: v }; const q = new URLSearchParams(Object.entries(n).filter(([, x]) => x)); go('/keys' + (q.toString() ? '?' + q : '')); };
  const search = h('input', { type: 'search', name: 'q', id: 'key-search', value: f.q, placeholder: 'Part of a key id', 'aria-label': 'Search keys', size: 22 });
  search.addEventListener('change', () => setF('q', search.value.trim()));
  const statusSel = h('select', { name: 'status', onchange: (ev) => setF('status', ev.target.value) },
    h('option', { value: '' }, 'any'), ['active', 'throttled', 'revoked'].map((v) => h('option', { value: v, selected: f.status === v }, v)));
  const tbody = h('tbody', { id: 'key-rows' });
  const state = h('div', { class: 'state', id: 'keys-state' }, 'Loading the keys…');
  let next = null;
  const more = h('button', { type: 'button', class: 'btn', id: 'more', hidden: true, onclick: () => load() }, 'Load more');
  main.replaceChildren(h('div', { class: 'queue-head' }, h('h1', {}, 'API keys')),
    h('form', { class: 'filters', onsubmit: (ev) => ev.preventDefault() },
      h('label', { class: 'filter' }, h('span', {}, 'Key'), search), h('label', { class: 'filter' }, h('span', {}, 'Status'), statusSel),
      f.q || f.status ? h('div', { class: 'filter-actions' }, h('a', { href: '/keys', 'data-link': true }, 'Clear filters')) : null),
    h('p', { class: 'muted page-note' }, 'The keys of the registry and those incidents name. Open a key for its traffic, history and containment.'),
    h('table', { class: 'grid keys-list', id: 'keys' }, h('thead', {}, h('tr', {},
      ['Key', 'Status', 'Until', 'Reason', 'Last seen', 'Open incidents', 'Incidents', 'Changed'].map((c) => h('th', { scope: 'col', class: c.includes('ncidents') ? 'num' : null }, c)))), tbody),
    state, more);
  const g = gen;
  async function load() {
    const q = new URLSearchParams({ limit: '100' });
    if (f.q) q.set('q', f.q);
    if (f.status) q.set('status', f.status);
    if (next) q.set('cursor', next);
    try {
      const page = await api('GET', `/api/v1/keys?${q}`);
      if (g !== gen) return;
      for (const k of page.keys) tbody.append(h('tr', { 'data-key-id': k.key_id, 'data-key-status': k.status },
        h('td', {}, h('a', { href: `/keys/${encodeURIComponent(k.key_id)}`, 'data-link': true, class: 'mono' }, k.key_id)),
        h('td', {}, keyStatus(k)), h('td', { class: 'nowrap' }, untilText(k)),
        h('td', { class: 'reason' }, k.status === 'active' ? '' : k.reason || ''),
        h('td', { class: 'nowrap' }, when(k.last_seen)),
        h('td', { class: 'num' }, k.open_incidents ? h('b', {}, k.open_incidents) : '0'), h('td', { class: 'num' }, k.incident_count),
        h('td', { class: 'nowrap' }, k.in_registry ? when(k.updated_at) : h('span', { class: 'muted', title: 'not in the registry' }, '—'))));
      next = page.next_cursor;
      more.hidden = !next;
      if (!tbody.children.length) {
        state.replaceChildren(h('p', {}, f.q || f.status ? 'No key matches these filters.' : 'No key is known yet: keys appear when an incident names them or a containment touches them.'));
        state.className = 'state state-empty';
      } else { state.textContent = ''; state.className = 'state'; }
    } catch (e) { if (g === gen) state.replaceChildren(explain(e, 'the keys')); }
  }
  load();
}

async function pageKey(main, key) {
  document.body.dataset.page = 'key';
  document.title = `${key} · custos`;
  main.replaceChildren(h('p', { class: 'state' }, `Loading key ${key}…`));
  const g = gen;
  let k;
  const path = `/api/v1/keys/${encodeURIComponent(key)}`;
  try { k = await api('GET', path); } catch (e) {
    if (g === gen) main.replaceChildren(h('a', { href: '/keys', 'data-link': true, class: 'back' }, '← Keys'), explain(e, `key ${key}`));
    return;
  }
  if (g !== gen) return;
  const reload = () => pageKey(main, key);
  const run = async (...args) => { if (await contain(...args)) reload(); };
  let controls;
  if (can(RESPOND)) {
    const b = (id, label, cls, fn) => h('button', { type: 'button', class: `btn ${cls}`, id, onclick: fn }, label);
    controls = h('section', { class: 'controls', id: 'key-controls', 'aria-label': 'Containment' },
      k.status !== 'revoked' ? b('revoke', 'Revoke…', 'btn-danger', () => run(`${path}/revoke`, `Revoke ${key}`,
        'The gateway refuses the key from now on. Through the playbooks\' effectors, audited with you as the actor.',
        [{ ...ttlField, label: 'For (empty: until restored)' }])) : null,
      k.status === 'revoked' ? b('restore', 'Restore…', 'btn-primary', () => run(`${path}/restore`, `Restore ${key}`,
        'The key works again. Audited with you as the actor.', [])) : null,
      b('throttle', k.status === 'throttled' ? 'Change throttle…' : 'Throttle…', '', () => run(`${path}/throttle`, `Throttle ${key}`,
        'The gateway limits the key to this rate. Audited with you as the actor.',
        [{ name: 'rps', label: 'Requests per second', required: true, max: 12 }, { ...ttlField, label: 'For (empty: until lifted)' }])),
      k.status === 'throttled' ? b('unthrottle', 'Lift throttle…', '', () => run(`${path}/unthrottle`, `Lift the throttle on ${key}`,
        'The key gets its full rate back. Audited with you as the actor.', [])) : null);
  } else {
    controls = h('p', { class: 'muted', id: 'readonly' }, `Your role (${me.role}) sees keys; responders contain them.`);
  }
  const header = h('section', { class: 'inc-head', id: 'key-head' },
    h('a', { href: '/keys', 'data-link': true, class: 'back' }, '← Keys'),
    h('div', { class: 'inc-title' }, h('h1', {}, h('span', { class: 'muted' }, 'key '), h('span', { class: 'mono', id: 'key-id' }, k.key_id)), keyStatus(k)),
    k.status !== 'active' && k.reason ? h('p', { class: 'inc-summary' }, h('span', { class: 'muted' }, 'Reason: '), k.reason) : null,
    h('dl', { class: 'facts' },
      fact('Status', h('span', { id: 'key-status' }, k.status)),
      fact('Until', k.status === 'active' ? '—' : k.until ? localTime(k.until) : k.status === 'revoked' ? 'restored by hand' : 'lifted by hand'),
      fact('First seen', localTime(k.first_seen)), fact('Last seen', localTime(k.last_seen)),
      fact('Revoked', localTime(k.revoked_at)), fact('Restored', localTime(k.restored_at)),
      fact('Open incidents', String(k.open_incidents)), fact('In the registry', k.in_registry ? 'yes' : 'no')));
  main.replaceChildren(header, controls, h('div', { class: 'inc-body' },
    h('div', { class: 'col-main' }, trafficPanel(k.traffic, `key ${k.key_id}`),
      h('section', { class: 'panel', id: 'history' }, h('h2', {}, `Status history (${k.history.length})`), actionsTable(k.history, 'history-table'))),
    h('div', { class: 'col-side' }, incidentsPanel(k.incidents || [], k.incidents_more, `/?api_key=${encodeURIComponent(k.key_id)}`))));
  view = { key: (ev) => { if (ev.key === 'Escape' || ev.key === 'u') go('/keys'); } };
}

page('keys', /^\/keys$/, pageKeys, { nav: 'Keys', href: '/keys', order: 50 });
page('key', /^\/keys\/([A-Za-z0-9._:@-]+)$/, pageKey);
