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
  const reload = () => { if (view && view.stop) view.stop(); view = null; pageIncident(main, id); };
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
    seriousLine(inc),
    h('dl', { class: 'facts' },
      fact('Subject', subject(inc)), fact('Tenant', inc.tenant || '—'),
      fact('Assignee', h('span', { id: 'assignee' }, inc.assignee || 'unassigned')),
      fact('First seen', localTime(inc.first_seen)), fact('Last seen', localTime(inc.last_seen)),
      fact('Alerts', String(inc.alert_count ?? (inc.alerts || []).length)), fact('ATLAS / OWASP', h('div', { class: 'id-list', id: 'inc-ids' }, ids(inc, true)))),
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

  // alerts: why each fired; a coalesced row (an alert storm) stands for count alerts, nos. first_seq..last_seq
  const nAlerts = (inc.alerts || []).reduce((n, a) => n + (a.count || 1), 0);
  const alerts = h('section', { class: 'panel', id: 'alerts' }, h('h2', {}, `Alerts (${nAlerts})`),
    (inc.alerts || []).map((a) => h('div', { class: 'alert', 'data-alert-id': a.id, 'data-count': a.count || 1 },
      sevBadge(a.severity), ' ', h('b', {}, a.type), ' ', localTime(a.at),
      a.last_at ? h('span', { class: 'coalesced' },
        ` — ${a.count} ${a.count === 1 ? 'alert' : 'alerts'} coalesced${a.first_seq ? ` (no. ${a.first_seq}${a.last_seq > a.first_seq ? `–${a.last_seq}` : ''})` : ''}`,
        a.count > 1 ? ', the last at ' : '', a.count > 1 ? localTime(a.last_at) : '') : null,
      h('div', { class: 'why' }, a.summary || ''),
      a.evidence && a.evidence.rule_id ? h('div', { class: 'muted mono' }, `rule ${a.evidence.rule_id}`) : null,
      a.evidence && Array.isArray(a.evidence.signals) && a.evidence.signals.length
        ? h('div', { class: 'signals' }, a.evidence.signals.map((sg) => h('span', { class: 'tag tag-signal' }, String(sg)))) : null)));

  // timeline; a coalesced alert row's text names its last time in UTC (for
  // the CLI and the exports): shown here in local time, as every other time
  const timelineWhat = (t) => {
    const what = t.what || '';
    const tail = t.last_at ? ` (${t.count} alerts coalesced, the last at ${t.last_at})` : null;
    if (!tail || !what.endsWith(tail)) return what;
    return h('span', {}, what.slice(0, -tail.length), ` (${t.count} alerts coalesced, the last at `, localTime(t.last_at), ')');
  };
  const tl = inc.timeline || [];
  const timeline = h('section', { class: 'panel', id: 'timeline' },
    h('div', { class: 'panel-head' }, h('h2', {}, `Timeline (${tl.length})`),
      h('button', { type: 'button', class: 'btn btn-small', id: 'export-json', onclick: () => download(`${inc.incident_id}-timeline.json`, 'application/json', JSON.stringify(tl, null, 2)) }, 'Export JSON'),
      h('button', { type: 'button', class: 'btn btn-small', id: 'export-csv', onclick: () => download(`${inc.incident_id}-timeline.csv`, 'text/csv',
        ['at,kind,actor,what', ...tl.map((t) => [t.at, t.kind, t.actor, t.what].map(csvCell).join(','))].join('\r\n') + '\r\n') }, 'Export CSV')),
    h('table', { class: 'grid timeline' }, h('thead', {}, h('tr', {}, ['When', 'What', 'Who', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, tl.map((t) => h('tr', { 'data-kind': t.kind, class: `tl-${t.kind}` },
        h('td', { class: 'when' }, localTime(t.at)), h('td', {}, h('span', { class: 'kind' }, t.kind.replace('_', ' '))),
        h('td', {}, t.actor || ''), h('td', { class: 'what' }, timelineWhat(t)))))));

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
    h('div', { class: 'col-main' }, incidentCharts(inc), timeline, evidence), h('div', { class: 'col-side' }, actions, alerts, related)));
  document.title = `${inc.incident_id} · custos`;

  // Live: an event of the stream about this incident (or one of its
  // actions) reads it again; when what the page shows changed (someone
  // else's change: one's own reloads the page already), a bar says so and
  // offers to reload, so the page never changes under the analyst's eyes.
  const print = (x) => JSON.stringify([x.status, x.severity, x.assignee, x.disposition, x.alert_count,
    (x.timeline || []).length, (x.actions || []).map((a) => [a.id, a.state])]);
  const seen = print(inc);
  let checking = null;
  const changedBar = h('div', { class: 'inc-changed', id: 'inc-changed', role: 'status', hidden: true });
  header.prepend(changedBar);
  const recheck = () => {
    clearTimeout(checking);
    checking = setTimeout(async () => {
      let now;
      try { now = await api('GET', path); } catch (e) { return; }
      if (g !== gen || print(now) === seen) return;
      changedBar.replaceChildren(h('span', {}, `This incident changed since you opened it (now ${now.status}, ${now.severity}${now.assignee ? ', ' + now.assignee : ''}). `),
        h('button', { type: 'button', class: 'btn btn-small', id: 'inc-reload', onclick: reload }, 'Show the changes'));
      changedBar.hidden = false;
    }, 200);
  };
  const stream = liveStream({
    onIncident: (d) => { if (d.incident_id === inc.incident_id) recheck(); },
    onAction: (d) => { if (d.incident_id === inc.incident_id) recheck(); },
    onReset: recheck,
    onState: () => {},
  });
  view = {
    key: (ev) => { if (ev.key === 'Escape' || ev.key === 'u') go(lastQueue); },
    stop: () => { clearTimeout(checking); stream.close(); },
  };
}

page('incident', /^\/incidents\/([A-Za-z0-9._:@-]+)$/, pageIncident);
