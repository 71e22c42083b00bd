// ---- models: the list of versions, one version, its rollback ----

function driftBadge(d) {
  const st = (d && d.state) || 'none';
  const cls = st === 'drifting' ? 'st-escalated' : st === 'settled' ? 'st-resolved' : 'st-none';
  return h('span', { class: `status drift-st ${cls}`, 'data-drift': st, title: st === 'none' ? 'no drift incident' : `${st}: ${d.incident_id}` },
    st === 'none' ? 'no drift' : st === 'drifting' ? `drifting (${d.severity})` : 'drift settled');
}

const versionHref = (m, v) => `/models/${encodeURIComponent(m)}/versions/${encodeURIComponent(v)}`;

async function pageModels(main) {
  document.body.dataset.page = 'models';
  document.title = 'Models · custos';
  const q = new URLSearchParams(location.search).get('q') || '';
  const search = h('input', { type: 'search', name: 'q', id: 'model-search', value: q, placeholder: 'Part of a model name', 'aria-label': 'Search models', size: 22 });
  search.addEventListener('change', () => go('/models' + (search.value.trim() ? '?q=' + encodeURIComponent(search.value.trim()) : '')));
  const tbody = h('tbody', { id: 'model-rows' });
  const state = h('div', { class: 'state', id: 'models-state' }, 'Loading the models…');
  let next = null;
  const more = h('button', { type: 'button', class: 'btn', id: 'more', hidden: true, onclick: () => load() }, 'Load more');
  main.replaceChildren(h('div', { class: 'queue-head' }, h('h1', {}, 'Models')),
    h('form', { class: 'filters', onsubmit: (ev) => ev.preventDefault() }, h('label', { class: 'filter' }, h('span', {}, 'Model'), search),
      q ? h('div', { class: 'filter-actions' }, h('a', { href: '/models', 'data-link': true }, 'Clear filter')) : null),
    h('p', { class: 'muted page-note' }, 'Every version of the deployment registry and of incidents. Open a version for its deployments, rollbacks, drift and traffic.'),
    h('table', { class: 'grid models-list', id: 'models' }, h('thead', {}, h('tr', {},
      ['Model', 'Version', 'Deployment', 'Deployed', 'Retired', 'Drift', 'Open incidents'].map((c) => h('th', { scope: 'col', class: c === 'Open incidents' ? 'num' : null }, c)))), tbody),
    state, more);
  const g = gen;
  async function load() {
    const p = new URLSearchParams({ limit: '50' });
    if (q) p.set('q', q);
    if (next) p.set('cursor', next);
    try {
      const page = await api('GET', `/api/v1/models?${p}`);
      if (g !== gen) return;
      for (const m of page.models) {
        m.versions.forEach((v, i) => tbody.append(h('tr', { 'data-model': m.model, 'data-version': v.version, class: i === 0 ? 'model-first' : '' },
          i === 0 ? h('th', { scope: 'rowgroup', rowspan: m.versions.length, class: 'model-name mono' }, m.model) : null,
          h('td', {}, h('a', { href: versionHref(m.model, v.version), 'data-link': true, class: 'mono' }, v.version)),
          h('td', {}, v.active ? h('span', { class: 'status st-investigating' }, 'active')
            : v.in_registry ? h('span', { class: 'status st-closed' }, v.retired_at ? 'retired' : 'deployed, inactive') : h('span', { class: 'muted' }, 'not in the registry')),
          h('td', { class: 'nowrap' }, localTime(v.deployed_at)), h('td', { class: 'nowrap' }, localTime(v.retired_at)),
          h('td', {}, driftBadge(v.drift)), h('td', { class: 'num' }, v.open_incidents ? h('b', {}, v.open_incidents) : '0'))));
      }
      next = page.next_cursor;
      more.hidden = !next;
      if (!tbody.children.length) {
        state.replaceChildren(h('p', {}, q ? 'No model matches.' : 'No model is known yet: the registry (model_deployments) is empty and no incident names one.'));
        state.className = 'state state-empty';
      } else { state.textContent = ''; state.className = 'state'; }
    } catch (e) { if (g === gen) state.replaceChildren(explain(e, 'the models')); }
  }
  load();
}

function psiPanel(d) {
  const panel = h('section', { class: 'panel', id: 'drift' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Drift'), driftBadge(d)));
  if (!d || d.state === 'none') {
    panel.append(h('p', { class: 'muted' }, 'No drift incident for this version: its behaviour matches its early traffic.'));
    return panel;
  }
  panel.append(h('p', {}, h('a', { href: `/incidents/${encodeURIComponent(d.incident_id)}`, 'data-link': true, class: 'mono' }, d.incident_id), ' ',
    sevBadge(d.severity), ' ', statusBadge(d.status), ' detected ', when(d.detected_at)),
  h('p', { class: 'muted small-text' }, d.summary || ''));
  const psi = Object.entries(d.psi || {}).sort((a, b) => b[1] - a[1]);
  if (psi.length) {
    const max = Math.max(0.5, ...psi.map(([, v]) => v));
    panel.append(h('table', { class: 'psi', id: 'psi' }, h('caption', { class: 'muted small-text' },
      `PSI per feature in the last drifting window (${d.windows_over_threshold ?? '?'} windows over 0.2 in a row)`),
    h('tbody', {}, psi.map(([name, v]) => {
      const bar = s('svg', { viewBox: '0 0 100 8', class: 'psi-bar', 'aria-hidden': 'true', preserveAspectRatio: 'none' },
        s('rect', { x: 0, y: 0, width: (100 * Math.min(v, max)) / max, height: 8, class: v >= 0.2 ? 'over' : 'under' }),
        s('line', { x1: (100 * 0.2) / max, x2: (100 * 0.2) / max, y1: 0, y2: 8, class: 'mark' }));
      return h('tr', { 'data-feature': name }, h('th', { scope: 'row', class: 'mono' }, name), h('td', { class: 'num' }, v.toFixed(3)), h('td', { class: 'bar-cell' }, bar));
    }))));
  }
  return panel;
}

async function pageModelVersion(main, model, version) {
  document.body.dataset.page = 'model';
  document.title = `${model}@${version} · custos`;
  main.replaceChildren(h('p', { class: 'state' }, `Loading ${model}@${version}…`));
  const g = gen;
  const path = `/api/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}`;
  let v;
  try { v = await api('GET', path); } catch (e) {
    if (g === gen) main.replaceChildren(h('a', { href: '/models', 'data-link': true, class: 'back' }, '← Models'), explain(e, `${model}@${version}`));
    return;
  }
  if (g !== gen) return;
  const reload = () => pageModelVersion(main, model, version);
  const others = (v.versions || []).map((x) => x.version).filter((x) => x !== version);
  let controls;
  if (can(RESPOND)) {
    controls = h('section', { class: 'controls', id: 'model-controls', 'aria-label': 'Containment' },
      h('button', { type: 'button', class: 'btn btn-danger', id: 'rollback', disabled: !v.active,
        title: v.active ? '' : `${version} is not the active version of ${model}`,
        onclick: async () => {
          const ok = await contain(`${path}/rollback`, `Roll ${model} back from ${version}`,
            'The evidence is frozen first, then the registry switches the active version. Audited with you as the actor.',
            [{ name: 'to', label: 'To version (empty: the previous one)', options: others }]);
          if (ok) reload();
        } }, 'Roll back…'),
      v.active ? null : h('span', { class: 'muted' }, `Only the active version (${v.active_version || 'none'}) can be rolled back.`));
  } else {
    controls = h('p', { class: 'muted', id: 'readonly' }, `Your role (${me.role}) sees models; responders roll them back.`);
  }
  const header = h('section', { class: 'inc-head', id: 'model-head' },
    h('a', { href: '/models', 'data-link': true, class: 'back' }, '← Models'),
    h('div', { class: 'inc-title' }, h('h1', {}, h('span', { class: 'muted' }, 'model '), h('span', { class: 'mono' }, `${model}@${version}`)),
      v.active ? h('span', { class: 'status st-investigating', id: 'version-state' }, 'active')
        : h('span', { class: 'status st-closed', id: 'version-state' }, v.in_registry ? 'not active' : 'not in the registry'),
      driftBadge(v.drift)),
    h('dl', { class: 'facts' }, fact('Active version', v.active_version ? h('a', { href: versionHref(model, v.active_version), 'data-link': true, class: 'mono' }, v.active_version) : '—'),
      fact('Deployed', localTime(v.deployed_at)), fact('Retired', localTime(v.retired_at)),
      fact('Last seen', localTime(v.last_seen)), fact('Open incidents', String(v.open_incidents))));
  const deployments = h('section', { class: 'panel', id: 'deployments' }, h('h2', {}, `Deployments (${v.deployments.length})`),
    v.deployments.length ? h('table', { class: 'grid history' }, h('thead', {}, h('tr', {}, ['When', 'From', 'To', 'By', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, v.deployments.map((d) => h('tr', { 'data-action-id': d.action_id ?? '' }, h('td', { class: 'nowrap' }, localTime(d.at)),
        h('td', { class: 'mono' }, d.from_version || '—'), h('td', { class: 'mono' }, d.to_version), h('td', {}, d.by || '—'), h('td', { class: 'num' }, d.action_id ?? '—')))))
      : h('p', { class: 'muted' }, 'No switch of the active version from or to this version.'));
  const versions = h('section', { class: 'panel', id: 'versions' }, h('h2', {}, 'Versions of the model'),
    (v.versions || []).length ? h('ul', { class: 'related' }, v.versions.map((x) => h('li', { 'data-version': x.version },
      h('a', { href: versionHref(model, x.version), 'data-link': true, class: 'mono' }, x.version), ' ',
      x.active ? h('span', { class: 'status st-investigating' }, 'active') : h('span', { class: 'muted' }, x.retired_at ? 'retired' : 'inactive'), ' ',
      h('span', { class: 'muted' }, 'deployed '), localTime(x.deployed_at))))
      : h('p', { class: 'muted' }, 'The registry holds no version of this model.'));
  main.replaceChildren(header, controls, h('div', { class: 'inc-body' },
    h('div', { class: 'col-main' }, psiPanel(v.drift), trafficPanel(v.traffic, `${model}@${version}`),
      h('section', { class: 'panel', id: 'rollbacks' }, h('h2', {}, `Rollbacks from this version (${v.rollbacks.length})`), actionsTable(v.rollbacks, 'rollbacks-table')),
      deployments),
    h('div', { class: 'col-side' }, versions, incidentsPanel(v.incidents || [], v.incidents_more, `/?model=${encodeURIComponent(model)}&version=${encodeURIComponent(version)}`))));
  view = { key: (ev) => { if (ev.key === 'Escape' || ev.key === 'u') go('/models'); } };
}

page('models', /^\/models$/, pageModels, { nav: 'Models', href: '/models', order: 55 });
page('model', /^\/models\/([A-Za-z0-9._:@-]+)\/versions\/([A-Za-z0-9._:@-]+)$/, pageModelVersion);
