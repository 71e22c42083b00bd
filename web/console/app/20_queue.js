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
      const v = await ask('Save this view', [{ name: 'name', label: 'Name', required: true, max: 60 }], 'Save', 'Saved views are kept on the server for your user; a name you have used already is replaced.');
      if (!v) return;
      try { await api('POST', '/api/v1/views', { name: v.name, query: filterQuery(f) }); } catch (e) { toast(e.message, true); return; }
      toast(`View "${v.name}" saved`);
      loadViews();
    } }, 'Save view…')) : null);
  // Saved views, the user's, from the server (GET /api/v1/views); the bar
  // keeps its height while they load, so the table does not jump.
  const viewBar = h('nav', { class: 'views', id: 'views', 'aria-label': 'Saved views' }, h('span', { class: 'muted' }, 'Views:'));
  async function loadViews() {
    let list;
    try { list = (await api('GET', '/api/v1/views')).views; } catch (e) {
      if (!stopped) viewBar.replaceChildren(h('span', { class: 'muted' }, `Views: could not be loaded (${e.message})`));
      return;
    }
    if (stopped) return;
    const cur = filterQuery(f);
    viewBar.replaceChildren(h('span', { class: 'muted' }, 'Views:'),
      ...(list.length ? list.map((w) => h('span', { class: 'view', 'data-view-id': w.id },
        h('a', { href: '/?' + w.query, 'data-link': true, class: w.query === cur ? 'on' : '' }, w.name),
        h('button', { type: 'button', class: 'btn-x', 'aria-label': `Forget the view ${w.name}`, title: 'forget', onclick: async () => {
          try { await api('DELETE', `/api/v1/views/${w.id}`); } catch (e) { toast(e.message, true); return; }
          loadViews();
        } }, '×')))
        : [h('span', { class: 'muted' }, 'none yet: filter the queue, then "Save view…"')]));
  }

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
  const live = h('span', { class: 'live', id: 'live', 'data-mode': 'poll', title: 'new and changed incidents arrive by themselves (Server-Sent Events; polling while the stream is down)' }, 'live');
  main.replaceChildren(h('div', { class: 'queue-head' }, h('h1', {}, 'Incidents'), counts, live), filters, viewBar, bulk, table, state, more);
  showBulk();
  loadViews();

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

  // A row the first page brings again unchanged stays the same element
  // (only its "min ago" moves): replacing it would drop a click or a hover
  // the analyst is in the middle of, since every live event reads the page.
  const sigOf = new WeakMap(); // row -> the incident's JSON it was drawn from
  function put(i, where) {
    const old = rowsById.get(i.incident_id);
    const sig = JSON.stringify(i);
    if (old && sigOf.get(old) === sig) {
      for (const t of old.querySelectorAll('time.rel')) t.textContent = relTime(t.getAttribute('datetime'));
      return old;
    }
    const tr = row(i);
    sigOf.set(tr, sig);
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

  // Live: an event of the stream (an incident opened or changed) asks for
  // the first page again, merged in place: new incidents on top, changed
  // ones replaced where they are; the scroll, the selection, the keyboard's
  // row and the filters stay as they are. Events that come together make
  // one request. While the stream is down, the first page is asked for
  // every LIVE_MS instead.
  let streamOpen = false;
  let soon = null;
  const refreshSoon = () => { clearTimeout(soon); soon = setTimeout(refresh, 150); };
  const stream = liveStream({
    onIncident: refreshSoon,
    onReset: refreshSoon, // the stream lost our place: read the page again
    onState: (st) => {
      streamOpen = st === 'open';
      live.dataset.mode = streamOpen ? 'stream' : 'poll';
      if (streamOpen) refreshSoon(); // what changed before the stream opened
      else { live.classList.add('off'); live.textContent = 'live: reconnecting'; schedule(); }
    },
  });

  async function refresh() {
    clearTimeout(timer);
    try {
      const page = await api('GET', `/api/v1/incidents?${filterQuery(f, { limit: PAGE })}`);
      if (stopped) return;
      live.classList.toggle('off', !streamOpen);
      live.textContent = streamOpen ? 'live' : 'live: reconnecting (polling)';
      showCounts(page.counts);
      const fresh = page.incidents.filter((i) => !rowsById.has(i.incident_id));
      // rows that arrive on top must not push what the analyst reads down:
      // the first row in view is held where it is on the screen (by hand,
      // whether or not the browser anchors the scroll itself)
      const held = window.scrollY > 0 ? [...tbody.children].find((r) => r.getBoundingClientRect().bottom > 0) : null;
      const heldId = held && held.dataset.incidentId;
      const top0 = held ? held.getBoundingClientRect().top : 0;
      for (const i of page.incidents) if (rowsById.has(i.incident_id)) put(i);
      for (const i of fresh.reverse()) put(i, 'top').classList.add('arrived');
      const now = heldId && rowsById.get(heldId);
      if (now && now.isConnected) window.scrollBy(0, now.getBoundingClientRect().top - top0);
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
    if (!stopped && !streamOpen) timer = setTimeout(refresh, LIVE_MS);
  }

  view = {
    stop: () => { stopped = true; clearTimeout(timer); clearTimeout(soon); stream.close(); },
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
