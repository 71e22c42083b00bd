// ---- approvals: every pending containment action, oldest first ----

// "3 h 12 min", "4 min 05 s", "12 s": what is left of an approval's time.
function leftText(ms) {
  if (ms <= 0) return 'expired';
  const s = Math.ceil(ms / 1000);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${String(mm).padStart(2, '0')} min`;
  if (mm) return `${mm} min ${String(ss).padStart(2, '0')} s`;
  return `${ss} s`;
}

// The target of an action as the analyst reads it: a key, or model@from → to.
function actionTarget(a) {
  const t = a.target || {};
  if (t.key_id) {
    const extra = [t.rps !== undefined ? `${t.rps} req/s` : null, t.ttl_s ? `for ${leftText(t.ttl_s * 1000)}` : null].filter(Boolean).join(', ');
    return h('span', {}, h('a', { href: `/keys/${encodeURIComponent(t.key_id)}`, 'data-link': true, class: 'mono' }, t.key_id),
      extra ? h('span', { class: 'muted' }, ` · ${extra}`) : null);
  }
  if (t.model) {
    return h('span', {}, h('a', { href: `/models/${encodeURIComponent(t.model)}/versions/${encodeURIComponent(t.from || '')}`, 'data-link': true, class: 'mono' },
      `${t.model}@${t.from || '?'}`), h('span', { class: 'muted' }, ` → ${t.to || 'previous'}`));
  }
  return h('span', { class: 'mono' }, a.subject || '—');
}

// Who asked for an action: a playbook, or a person (a manual request).
function askedBy(a) {
  const who = a.requested_by || '?';
  if (a.playbook && a.playbook !== 'manual' && who === `playbook:${a.playbook}`)
    return h('span', {}, h('span', { class: 'muted' }, 'playbook '), a.playbook);
  return h('span', {}, who, a.playbook === 'manual' ? h('span', { class: 'muted' }, ' (by hand)') : null);
}

const KIND_LABEL = { revoke_key: 'revoke key', restore_key: 'restore key', throttle_key: 'throttle key',
  unthrottle_key: 'lift throttle', rollback_model: 'roll back model', notify: 'notify', set_incident: 'update incident' };

// Approve (after a confirmation that says what will happen) or reject (with
// a required reason) pending action a; then done().
async function decideAction(a, approve, done) {
  const what = `${KIND_LABEL[a.kind] || a.kind} ${a.subject || ''}`;
  if (approve) {
    if (!await ask(`Approve: ${what}`, [], 'Approve and run',
      `${a.will || what}. It runs at once through the playbooks' effectors, audited with you as the actor.`)) return;
  } else {
    const v = await ask(`Reject: ${what}`, [{ name: 'reason', label: 'Reason (kept in the audit chain)', long: true, required: true }], 'Reject');
    if (!v) return;
    a.reason = v.reason;
  }
  try {
    const r = approve ? await api('POST', `/api/v1/actions/${a.id}/approve`)
      : await api('POST', `/api/v1/actions/${a.id}/reject`, { reason: a.reason });
    toast(approve ? `Action ${a.id} approved: ${r.state}` : `Action ${a.id} rejected`, approve && r.state !== 'done');
  } catch (e) { toast(e.message, true); }
  done();
}

async function pageApprovals(main) {
  document.body.dataset.page = 'approvals';
  document.title = 'Approvals · custos';
  const rows = new Map(); // action id -> {tr, a, deadline}
  let stopped = false, timer = null, tick = null, next = null;
  const tbody = h('tbody', { id: 'approval-rows' });
  const state = h('div', { class: 'state', id: 'approvals-state' }, 'Loading the pending actions…');
  const count = h('span', { class: 'count on', id: 'pending-count' }, 'pending ', h('b', {}, '…'));
  const live = h('span', { class: 'live', id: 'live', title: 'new and decided actions show by themselves' }, 'live');
  const more = h('button', { type: 'button', class: 'btn', id: 'more', hidden: true, onclick: () => load(true) }, 'Load more');
  const cols = ['#', 'Requested', 'What it will do', 'Target', 'Incident', 'Asked by', 'Expires in'];
  main.replaceChildren(
    h('div', { class: 'queue-head' }, h('h1', {}, 'Approvals'), h('div', { class: 'counts' }, count), live),
    h('p', { class: 'muted page-note' }, can(RESPOND)
      ? 'Containment that waits for a responder, oldest request first. Approving runs it at once through the effectors; rejecting needs a reason. Both are audited with you as the actor.'
      : `Containment that waits for a responder, oldest request first. Your role (${me.role}) sees the queue; responders decide.`),
    h('table', { class: 'grid approvals', id: 'approvals' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)),
        can(RESPOND) ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Decision')) : null)), tbody),
    state, more);

  const reload = () => { if (!stopped) refresh(); };

  function row(a) {
    const deadline = Date.now() + (a.expires_in_s ?? 0) * 1000;
    const left = h('span', { class: 'left' });
    const tr = h('tr', { 'data-action-id': a.id, 'data-kind': a.kind, class: `row kind-${a.kind}` },
      h('td', { class: 'num' }, a.id),
      h('td', { class: 'nowrap' }, when(a.requested_at)),
      h('td', { class: 'will' }, h('b', {}, KIND_LABEL[a.kind] || a.kind), h('div', { class: 'muted small-text' }, a.will || '')),
      h('td', {}, actionTarget(a)),
      h('td', { class: 'nowrap' }, a.incident_id
        ? h('a', { href: `/incidents/${encodeURIComponent(a.incident_id)}`, 'data-link': true, class: 'mono' }, a.incident_id)
        : h('span', { class: 'muted' }, 'none')),
      h('td', {}, askedBy(a)),
      h('td', { class: 'expiry nowrap', title: a.expires_at ? `expires ${new Date(a.expires_at).toISOString()} UTC` : '' }, left));
    if (can(RESPOND))
      tr.append(h('td', { class: 'decide nowrap' },
        h('button', { type: 'button', class: 'btn btn-small btn-primary approve', onclick: () => decideAction(a, true, reload) }, 'Approve'), ' ',
        h('button', { type: 'button', class: 'btn btn-small reject', onclick: () => decideAction(a, false, reload) }, 'Reject…')));
    return { tr, a, deadline, left };
  }

  function paint() {
    const now = Date.now();
    for (const r of rows.values()) {
      const ms = r.deadline - now;
      r.left.textContent = leftText(ms);
      r.tr.classList.toggle('soon', ms > 0 && ms < 15 * 60 * 1000);
      r.tr.classList.toggle('gone', ms <= 0);
      for (const b of r.tr.querySelectorAll('button')) b.disabled = ms <= 0;
    }
  }

  function showState() {
    count.replaceChildren('pending ', h('b', {}, `${rows.size}${next ? '+' : ''}`));
    if (!rows.size) {
      state.replaceChildren(h('p', {}, 'Nothing waits for a decision.'),
        h('p', { class: 'muted' }, 'Containment that a playbook asks approval for shows here, oldest first.'));
      state.className = 'state state-empty';
    } else { state.textContent = ''; state.className = 'state'; }
  }

  // Patches the table to the page: rows no longer pending leave, new ones
  // take their place by id order (oldest first), the others stay as they are.
  function merge(list, append) {
    const ids = new Set(list.map((a) => a.id));
    // Rows gone from the range this page covers were decided or expired.
    const last = list[list.length - 1];
    if (!append) for (const [id, r] of rows) if (!ids.has(id) && (!next || r.a.requested_at <= last.requested_at)) { r.tr.remove(); rows.delete(id); }
    for (const a of list) {
      if (rows.has(a.id)) continue;
      const r = row(a);
      rows.set(a.id, r);
      // in the server's order: by request time, then id
      const key = (x) => [x.requested_at, x.id];
      const later = [...rows.values()].filter((o) => o !== r && (o.a.requested_at > a.requested_at || (o.a.requested_at === a.requested_at && o.a.id > a.id)))
        .sort((x, y) => (key(x)[0] < key(y)[0] ? -1 : key(x)[0] > key(y)[0] ? 1 : x.a.id - y.a.id))[0];
      if (later && later.tr.isConnected) tbody.insertBefore(r.tr, later.tr);
      else tbody.append(r.tr);
      if (!append && rows.size > 1) r.tr.classList.add('arrived');
    }
    paint();
    showState();
  }

  async function load(append) {
    try {
      const q = new URLSearchParams({ state: 'pending', limit: '100' });
      if (append && next) q.set('cursor', next);
      const page = await api('GET', `/api/v1/actions?${q}`);
      if (stopped) return;
      next = page.next_cursor;
      more.hidden = !next;
      merge(page.actions, append);
      live.classList.remove('off');
      live.textContent = 'live';
    } catch (e) {
      if (stopped) return;
      if (!rows.size || e.status === 401) state.replaceChildren(explain(e, 'the pending actions'));
      live.classList.add('off');
      live.textContent = 'live: reconnecting';
    }
    schedule();
  }

  function refresh() { clearTimeout(timer); load(false); }
  function schedule() { clearTimeout(timer); if (!stopped) timer = setTimeout(refresh, LIVE_MS); }

  tick = setInterval(paint, 1000);
  view = { stop: () => { stopped = true; clearTimeout(timer); clearInterval(tick); } };
  load(false);
}

page('approvals', /^\/approvals$/, pageApprovals, { nav: 'Approvals', href: '/approvals', order: 30 });
