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

page('sessions', /^\/sessions$/, pageSessions, { nav: 'My sessions', href: '/sessions', order: 90 });
