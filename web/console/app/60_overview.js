// ---- the overview ----
// Ingest (events/s, consumer lag: only when the collector runs in the same
// process), incidents opened per hour by type over 24 h, open incidents by
// severity, time to acknowledge and to resolve, pending approvals. From
// GET /api/v1/overview, asked again every OVERVIEW_MS.

const OVERVIEW_MS = 10000;

function duration(sec) {
  if (sec === null || sec === undefined) return h('span', { class: 'muted', title: 'no incident in the window reached this' }, '—');
  const v = Number(sec);
  let t;
  if (v < 90) t = `${Math.round(v)} s`;
  else if (v < 5400) t = `${Math.round(v / 60)} min`;
  else if (v < 172800) t = `${(v / 3600).toFixed(1)} h`;
  else t = `${(v / 86400).toFixed(1)} d`;
  return h('span', { title: `${v} seconds` }, t);
}

function tile(id, label, value, sub) {
  return h('div', { class: 'tile', id }, h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null);
}

function pageOverview(main) {
  document.body.dataset.page = 'overview';
  document.title = 'Overview · custos';
  const body = h('div', { class: 'overview', id: 'overview' }, h('p', { class: 'state' }, 'Loading the overview…'));
  main.replaceChildren(h('div', { class: 'page-head' }, h('h1', {}, 'Overview'),
    h('span', { class: 'muted', id: 'overview-at' })), body);
  let timer = null; let stopped = false;
  const g = gen;

  function draw(o) {
    const ing = o.ingest || {};
    const na = ing.why && ing.events_per_s === null ? ing.why.replace(/^not available: /, '') : null;
    const approvals = PAGES.some((p) => p.name === 'approvals') && can(RESPOND)
      ? h('a', { href: '/approvals', 'data-link': true }, String(o.pending_approvals)) : String(o.pending_approvals);
    const tiles = h('div', { class: 'tiles' },
      tile('t-events', 'Events stored / s', ing.events_per_s === null || ing.events_per_s === undefined ? h('span', { class: 'na' }, 'not available') : fmtNum(ing.events_per_s), na),
      tile('t-lag', 'Consumer lag', ing.consumer_lag === null || ing.consumer_lag === undefined ? h('span', { class: 'na' }, 'not available') : `${fmtNum(ing.consumer_lag)} msgs`,
        ing.partitions ? `${ing.partitions} partitions` : na),
      tile('t-pending', 'Pending approvals', approvals, 'containment waiting for a responder'),
      tile('t-open', 'Open incidents', String(Object.values(o.open_by_severity || {}).reduce((a, b) => a + b, 0)), 'neither resolved nor closed'));

    const types = Object.keys(o.opened_per_hour || {}).sort((a, b) => TYPES.indexOf(a) - TYPES.indexOf(b));
    const hours = (o.hours || []).map((t) => hhmm(t));
    const opened = types.length
      ? barChart({ id: 'opened', width: 760, title: 'Incidents opened per hour, by type (last 24 h)', labels: hours,
        stacks: types.map((t) => ({ name: t, cls: `type-${t}`, values: o.opened_per_hour[t] })) })
      : h('figure', { class: 'chart-box chart-empty', 'data-chart': 'opened', 'data-points': 0 }, h('figcaption', {}, 'Incidents opened per hour, by type (last 24 h)'),
        h('p', { class: 'muted' }, 'No incident opened in the last 24 hours.'));

    const sevMax = Math.max(1, ...SEVERITIES.map((sv) => (o.open_by_severity || {})[sv] || 0));
    const bySev = h('section', { class: 'panel', id: 'open-by-severity' }, h('h2', {}, 'Open by severity'),
      h('table', { class: 'sev-bars' }, h('tbody', {}, SEVERITIES.map((sv) => {
        const n = (o.open_by_severity || {})[sv] || 0;
        return h('tr', { 'data-severity': sv },
          h('th', { scope: 'row' }, sevBadge(sv)),
          h('td', { class: 'num' }, h('a', { href: `/?severity=${sv}`, 'data-link': true }, String(n))),
          h('td', { class: 'bar-cell' }, s('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', cls: 'sevbar', 'aria-hidden': 'true' },
            s('rect', { x: 0, y: 0, width: 100, height: 10, cls: 'sevbar-track' }),
            s('rect', { x: 0, y: 0, width: (100 * n) / sevMax, height: 10, cls: `sevbar-fill f-${sv}` }))));
      }))));

    const times = h('section', { class: 'panel', id: 'times' }, h('h2', {}, 'Time to acknowledge and to resolve'),
      h('table', { class: 'grid times' },
        h('thead', {}, h('tr', {}, ['Window', 'Incidents', 'Acknowledged', 'Ack median', 'Ack p90', 'Resolved', 'Resolve median', 'Resolve p90'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ['7d', '30d'].map((w) => {
          const t = (o.times || {})[w] || {};
          return h('tr', { 'data-window': w }, h('th', { scope: 'row' }, `last ${w.replace('d', ' days')}`),
            h('td', { class: 'num' }, String(t.incidents ?? '—')), h('td', { class: 'num' }, String(t.acknowledged ?? '—')),
            h('td', { class: 'num', 'data-k': 'ack_median_s' }, duration(t.ack_median_s)), h('td', { class: 'num', 'data-k': 'ack_p90_s' }, duration(t.ack_p90_s)),
            h('td', { class: 'num' }, String(t.resolved ?? '—')),
            h('td', { class: 'num', 'data-k': 'resolve_median_s' }, duration(t.resolve_median_s)), h('td', { class: 'num', 'data-k': 'resolve_p90_s' }, duration(t.resolve_p90_s)));
        }))),
      h('p', { class: 'muted small' }, 'From detection to the first change a person made (take, assign, status, disposition), and to the first resolved or closed status; over the incidents detected in the window.'));

    body.replaceChildren(tiles, h('div', { class: 'overview-grid' },
      h('section', { class: 'panel', id: 'opened' }, opened), bySev), times);
    $('#overview-at').replaceChildren('updated ', localTime(new Date().toISOString()));
  }

  async function load() {
    try {
      const o = await api('GET', '/api/v1/overview');
      if (stopped || g !== gen) return;
      draw(o);
    } catch (e) {
      if (stopped || g !== gen) return;
      if (!body.querySelector('.tiles') || e.status === 401) body.replaceChildren(explain(e, 'the overview'));
      else $('#overview-at').textContent = `not updated: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(load, OVERVIEW_MS);
  }
  view = { stop: () => { stopped = true; clearTimeout(timer); } };
  load();
}

page('overview', /^\/overview$/, pageOverview, { nav: 'Overview', href: '/overview', order: 10 });
