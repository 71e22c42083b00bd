// ---- the audit chain (auditor, admin) ----
// Newest first, filtered by actor and kind (kept in the URL), 100 rows a
// page (keyset on seq: "Load more"); "Verify the chain" walks it all on
// the server (POST /api/v1/audit/verify) and says whether it holds.

const AUDIT_ROLES = ['auditor', 'admin'];

function pageAudit(main) {
  document.body.dataset.page = 'audit';
  document.title = 'Audit · custos';
  const p = new URLSearchParams(location.search);
  const f = { actor: p.get('actor') || '', kind: p.get('kind') || '' };
  const g = gen;
  let before = null;
  const setFilter = (k, v) => {
    const nf = { ...f, [k]: v };
    const q = new URLSearchParams();
    for (const [kk, vv] of Object.entries(nf)) if (vv) q.set(kk, vv);
    go('/audit' + (q.toString() ? '?' + q : ''));
  };
  const input = (name, label, ph) => {
    const i = h('input', { name, type: 'search', value: f[name], placeholder: ph, size: 16 });
    i.addEventListener('change', () => setFilter(name, i.value.trim()));
    return h('label', { class: 'filter' }, h('span', {}, label), i);
  };
  const result = h('div', { class: 'verify-result', id: 'verify-result', role: 'status' });
  const verify = h('button', { type: 'button', class: 'btn btn-primary', id: 'verify', onclick: async () => {
    verify.disabled = true;
    result.className = 'verify-result';
    result.textContent = 'Verifying every row of the chain…';
    try {
      const v = await api('POST', '/api/v1/audit/verify');
      if (g !== gen) return;
      result.className = `verify-result ${v.ok ? 'ok' : 'bad'}`;
      result.dataset.ok = String(v.ok);
      result.replaceChildren(h('b', {}, v.ok ? '✓ The chain holds' : '✗ The chain is broken'),
        v.ok ? ` — ${v.rows} rows checked, head #${v.head_seq} ` : ` at row #${v.bad_seq}: ${v.why} (${v.rows} rows good before it) `,
        h('span', { class: 'mono', title: v.head_hash }, v.head_hash ? `${v.head_hash.slice(0, 16)}…` : ''),
        ' · ', localTime(new Date().toISOString()));
    } catch (e) {
      result.className = 'verify-result bad';
      result.textContent = `Verify failed: ${e.message}`;
    }
    verify.disabled = false;
  } }, 'Verify the chain');
  const tbody = h('tbody', { id: 'audit-rows' });
  const state = h('div', { class: 'state', id: 'audit-state' }, 'Loading the audit chain…');
  const more = h('button', { type: 'button', class: 'btn', id: 'audit-more', hidden: true, onclick: () => load() }, 'Load more');
  main.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit chain'), verify, result),
    h('form', { class: 'filters', id: 'audit-filters', onsubmit: (ev) => ev.preventDefault() },
      input('actor', 'Actor', 'alice, playbook:…'), input('kind', 'Kind', 'signin, approved…'),
      f.actor || f.kind ? h('a', { href: '/audit', 'data-link': true, class: 'clear' }, 'Clear filters') : null),
    h('table', { class: 'grid audit' },
      h('thead', {}, h('tr', {}, ['#', 'When', 'Actor', 'Kind', 'Incident / action', 'Detail', 'Hash'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody), state, more);

  function detail(text) {
    let o = null;
    try { o = JSON.parse(text); } catch (e) { o = null; }
    if (!o || typeof o !== 'object') return h('span', { class: 'mono' }, text);
    return Object.entries(o).map(([k, v]) => h('span', { class: 'kv' }, h('span', { class: 'k' }, k), ' ',
      h('span', { class: 'v' }, typeof v === 'string' ? v : JSON.stringify(v))));
  }

  async function load() {
    const q = new URLSearchParams({ limit: '100' });
    if (f.actor) q.set('actor', f.actor);
    if (f.kind) q.set('kind', f.kind);
    if (before) q.set('before', String(before));
    more.disabled = true;
    try {
      const page = await api('GET', `/api/v1/audit?${q}`);
      if (g !== gen) return;
      for (const e of page.entries)
        tbody.append(h('tr', { 'data-seq': e.seq, 'data-kind': e.kind },
          h('td', { class: 'num' }, String(e.seq)), h('td', { class: 'when' }, localTime(e.ts)),
          h('td', {}, h('a', { href: `/audit?actor=${encodeURIComponent(e.actor)}`, 'data-link': true }, e.actor)),
          h('td', {}, h('a', { href: `/audit?kind=${encodeURIComponent(e.kind)}`, 'data-link': true, class: 'kind' }, e.kind)),
          h('td', {}, e.incident_id ? h('a', { href: `/incidents/${encodeURIComponent(e.incident_id)}`, 'data-link': true, class: 'mono' }, e.incident_id) : null,
            e.action_id ? h('span', { class: 'mono muted' }, ` action ${e.action_id}`) : null),
          h('td', { class: 'detail' }, detail(e.detail)),
          h('td', { class: 'mono hash', title: e.hash }, e.hash.slice(0, 10))));
      before = page.next_before;
      more.hidden = !before;
      more.disabled = false;
      if (!tbody.children.length) {
        state.className = 'state state-empty';
        state.textContent = f.actor || f.kind ? 'No audit row matches these filters.' : 'The audit chain is empty.';
      } else { state.className = 'state'; state.textContent = ''; }
    } catch (e) {
      if (g !== gen) return;
      state.className = 'state';
      state.replaceChildren(explain(e, 'the audit chain'));
    }
  }
  load();
}

page('audit', /^\/audit$/, pageAudit, { nav: 'Audit', href: '/audit', roles: AUDIT_ROLES, order: 80 });
