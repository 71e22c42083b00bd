// ---- charts: inline SVG, drawn here ----
// Small line and bar charts for the incident page and the overview. SVG
// made with createElementNS (text as text nodes), styled only by classes
// (style.css: the CSP forbids inline style). Each chart is a <figure> with
// a caption and an SVG labelled by its title; its numbers are in the
// <title> of every point and bar (hover), and the figure carries
// data-chart and data-points, so tests and users' scripts can find them.

const SVGNS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k === 'cls' ? 'class' : k, String(v));
  }
  for (const c of kids.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A round axis maximum above v: 1, 2, 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (Math.abs(v) >= 1000) return `${(v / 1e3).toFixed(1)}k`;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(2);
}

function hhmm(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
}

const CH = 150; const PAD = { l: 44, r: 12, t: 10, b: 22 };

// A line chart over times (ISO strings): series [{name, cls, values}]
// (null values leave a gap; a series with dots: true draws points only),
// an optional reference line {value, label}, and yMax (else from the data).
function lineChart({ id, title, times, series, ref, yMax, unit, note, width = 480 }) {
  const CW = width;
  const w = CW - PAD.l - PAD.r; const hgt = CH - PAD.t - PAD.b;
  const all = series.flatMap((se) => se.values).filter((v) => v !== null && v !== undefined);
  const top = yMax ?? niceMax(Math.max(...all, ref && ref.value !== null ? ref.value : 0, 0));
  const n = times.length;
  const x = (i) => PAD.l + (n <= 1 ? w / 2 : (i * w) / (n - 1));
  const y = (v) => PAD.t + hgt - (Math.min(v, top) / top) * hgt;
  const svg = s('svg', { viewBox: `0 0 ${CW} ${CH}`, cls: 'chart', role: 'img', 'aria-label': title });
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { x1: PAD.l, x2: CW - PAD.r, y1: y(top * f), y2: y(top * f), cls: 'grid-line' }),
      s('text', { x: PAD.l - 4, y: y(top * f) + 4, cls: 'axis axis-y' }, fmtNum(top * f)));
  }
  const ticks = Math.min(6, n);
  for (let k = 0; k < ticks; k++) {
    const i = ticks <= 1 ? 0 : Math.round((k * (n - 1)) / (ticks - 1));
    svg.append(s('text', { x: x(i), y: CH - 6, cls: `axis axis-x${k === 0 ? ' first' : k === ticks - 1 ? ' last' : ''}` }, hhmm(times[i])));
  }
  if (ref && ref.value !== null && ref.value !== undefined) {
    svg.append(s('line', { x1: PAD.l, x2: CW - PAD.r, y1: y(ref.value), y2: y(ref.value), cls: 'ref-line' },
      s('title', {}, `${ref.label}: ${fmtNum(ref.value)}${unit ? ' ' + unit : ''}`)));
  }
  for (const se of series) {
    if (!se.dots) {
      let d = ''; let pen = false;
      se.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      if (d) svg.append(s('path', { d, cls: `series ${se.cls}` }));
    }
    // points: always for dots-only series; for lines, only when few (a
    // line of hundreds of dots reads as noise)
    if (!se.dots && n > 40) continue;
    se.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      svg.append(s('circle', { cx: x(i), cy: y(v), r: se.dots ? 3.5 : 2.2, cls: `dot ${se.cls}` },
        s('title', {}, `${hhmm(times[i])}: ${se.name} ${fmtNum(v)}${unit ? ' ' + unit : ''}`)));
    });
  }
  const legend = h('div', { class: 'legend' },
    series.map((se) => h('span', { class: `key ${se.cls}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), se.name)),
    ref && ref.value !== null && ref.value !== undefined ? h('span', { class: 'key ref' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), `${ref.label} ${fmtNum(ref.value)}`) : null);
  return h('figure', { class: 'chart-box', 'data-chart': id, 'data-points': n },
    h('figcaption', {}, title), svg, legend, note ? h('p', { class: 'chart-note muted' }, note) : null);
}

// Stacked bars: labels (one per bar), stacks [{name, cls, values}].
function barChart({ id, title, labels, stacks, note, width = 480 }) {
  const CW = width;
  const w = CW - PAD.l - PAD.r; const hgt = CH - PAD.t - PAD.b;
  const n = labels.length;
  const totals = labels.map((_, i) => stacks.reduce((a, st) => a + (st.values[i] || 0), 0));
  const top = niceMax(Math.max(...totals, 1));
  const bw = w / Math.max(n, 1);
  const y = (v) => PAD.t + hgt - (v / top) * hgt;
  const svg = s('svg', { viewBox: `0 0 ${CW} ${CH}`, cls: 'chart', role: 'img', 'aria-label': title });
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { x1: PAD.l, x2: CW - PAD.r, y1: y(top * f), y2: y(top * f), cls: 'grid-line' }),
      s('text', { x: PAD.l - 4, y: y(top * f) + 4, cls: 'axis axis-y' }, fmtNum(top * f)));
  }
  labels.forEach((lab, i) => {
    let base = 0;
    for (const st of stacks) {
      const v = st.values[i] || 0;
      if (!v) continue;
      svg.append(s('rect', { x: PAD.l + i * bw + 1, width: Math.max(bw - 2, 1), y: y(base + v), height: y(base) - y(base + v), cls: `bar ${st.cls}` },
        s('title', {}, `${lab}: ${st.name} ${v}`)));
      base += v;
    }
    if (i % Math.ceil(n / 8) === 0) svg.append(s('text', { x: PAD.l + i * bw + bw / 2, y: CH - 6, cls: 'axis axis-x' }, lab));
  });
  const legend = h('div', { class: 'legend' }, stacks.map((st) => h('span', { class: `key ${st.cls}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), st.name)));
  return h('figure', { class: 'chart-box', 'data-chart': id, 'data-points': n },
    h('figcaption', {}, title), svg, legend, note ? h('p', { class: 'chart-note muted' }, note) : null);
}

// Horizontal bars, one per item [{label, value, title}], in the order given:
// what each feature added to a score. A table (text at the page's size
// whatever the column's width), each bar an SVG scaled to its cell.
function featureChart({ id, title, items, note }) {
  const top = Math.max(...items.map((it) => it.value), 0.01);
  return h('figure', { class: 'chart-box', 'data-chart': id, 'data-points': items.length },
    h('figcaption', {}, title),
    h('table', { class: 'psi features' }, h('tbody', {}, items.map((it) => h('tr', {},
      h('th', { scope: 'row', class: 'mono feat-label', title: it.label }, it.label),
      h('td', { class: 'num' }, `+${fmtNum(it.value)}`),
      h('td', { class: 'bar-cell' }, s('svg', { viewBox: '0 0 100 8', class: 'psi-bar', role: 'img', 'aria-label': it.title || it.label, preserveAspectRatio: 'none' },
        s('rect', { x: 0, y: 0, width: Math.max((100 * it.value) / top, 0.5), height: 8, class: 'bar' }, s('title', {}, it.title || `${it.label}: +${it.value}`)))))))),
    note ? h('p', { class: 'chart-note muted' }, note) : null);
}

// What the learned detector saw in a probing incident's latest alert that
// carries its score: its top features (evidence.learned_top), or null.
function learnedChart(inc) {
  const a = (inc.alerts || []).filter((x) => x.evidence && typeof x.evidence.learned_score === 'number' && Array.isArray(x.evidence.learned_top) && x.evidence.learned_top.length)
    .sort((x, y) => (x.at < y.at ? 1 : -1))[0];
  if (!a) return null;
  const ev = a.evidence;
  const items = ev.learned_top.filter((t) => t && typeof t.feature === 'string' && typeof t.weight === 'number' && t.weight > 0)
    .map((t) => ({ label: t.kind === 'dense' ? t.feature.replace(/_/g, ' ') : `“${t.feature}”`, value: t.weight, title: `${t.kind} ${t.feature}: +${t.weight} to the logit` }));
  if (!items.length) return null;
  return featureChart({ id: 'learned', title: `Learned detector: what raised the score (${ev.learned_score.toFixed(3)}, alert of ${hhmm(a.at)})`, items,
    note: `Each bar is what one feature of the prompt added to the model's logit (word and character grams in quotes, structure features by name)${ev.learned_planted ? `; the instruction planted in the content it carries: ${ev.learned_planted.replace(/_/g, ' ')}` : ''}.` });
}

// The incident's charts: for a key, its traffic against its baseline, its
// refusal rate and the novelty the extraction detector measured (GET
// /api/v1/series over the incident's span); for a model version's drift,
// the PSI of each feature per window from the drift alerts' evidence.
function incidentCharts(inc) {
  const box = h('section', { class: 'panel', id: 'charts' }, h('h2', {}, 'Why it fired'), h('p', { class: 'muted' }, 'Loading the charts…'));
  const draw = (...kids) => box.replaceChildren(h('h2', {}, 'Why it fired'), h('div', { class: 'charts' }, kids));
  if (inc.type === 'drift') {
    const alerts = (inc.alerts || []).filter((a) => a.evidence && a.evidence.psi && typeof a.evidence.psi === 'object')
      .sort((a, b) => (a.at < b.at ? -1 : 1));
    if (!alerts.length) { draw(h('p', { class: 'muted' }, 'No drift alert with PSI evidence.')); return box; }
    const feats = [...new Set(alerts.flatMap((a) => Object.keys(a.evidence.psi)))].slice(0, 6);
    const psi = lineChart({ id: 'psi', title: 'PSI per window, by feature (drift alerts)', times: alerts.map((a) => a.at),
      series: feats.map((f, k) => ({ name: f, cls: `c${k}`, values: alerts.map((a) => a.evidence.psi[f] ?? null), dots: alerts.length < 3 })),
      ref: { value: 0.2, label: 'shift mark (the default analytics.drift_psi_x1000)' },
      note: 'The before/after distributions of the drifting feature are not stored by the drift detector (its alerts keep the PSI per feature only), so they are not drawn.' });
    draw(psi);
    if (inc.model && inc.model_version) {
      // the version's traffic over the same span, for scale
      const t0 = new Date(alerts[0].at).getTime() - 60 * 60000;
      const t1 = Math.min(new Date(alerts[alerts.length - 1].at).getTime() + 10 * 60000, t0 + 7 * 86400000);
      const step = Math.max(60, Math.ceil((t1 - t0) / 240 / 60000) * 60);
      const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const q = new URLSearchParams({ model: inc.model, version: inc.model_version, since: iso(t0), until: iso(t1), step: String(step) });
      api('GET', `/api/v1/series?${q}`).then((sr) => {
        if (!box.isConnected && !box.parentNode) return;
        box.querySelector('.charts').append(lineChart({ id: 'model-requests', title: `Requests per minute, ${inc.model}@${inc.model_version}`,
          times: sr.points.map((p) => p.t), unit: '/min',
          series: [{ name: 'requests/min', cls: 'c0', values: sr.points.map((p) => p.requests / (step / 60)) }] }));
      }, () => {});
    }
    return box;
  }
  if (!inc.api_key_id) { draw(h('p', { class: 'muted' }, 'No key to chart.')); return box; }
  // The incident's span with some context, at most a week, at most 240 points.
  const t0 = new Date(inc.first_seen || inc.detected_at).getTime() - 30 * 60000;
  const t1 = Math.min(Math.max(new Date(inc.last_seen || inc.detected_at).getTime() + 10 * 60000, t0 + 60 * 60000), t0 + 7 * 86400000);
  const step = Math.max(60, Math.ceil((t1 - t0) / 240 / 60000) * 60);
  const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const q = new URLSearchParams({ api_key: inc.api_key_id, since: iso(t0), until: iso(t1), step: String(step) });
  // from the alerts alone: drawn whether or not the key's series loads
  const lc = learnedChart(inc);
  api('GET', `/api/v1/series?${q}`).then((sr) => {
    const pts = sr.points; const times = pts.map((p) => p.t);
    const perMin = step / 60;
    const b = sr.baseline || {};
    const src = b.source ? ` from the ${b.source.type} alert of ${new Date(b.source.at).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false })}` : '';
    const charts = [
      lineChart({ id: 'requests', title: `Requests per minute, ${inc.api_key_id}`, times, unit: '/min',
        series: [{ name: 'requests/min', cls: 'c0', values: pts.map((p) => p.requests / perMin) }],
        ref: { value: b.requests_per_min ?? null, label: 'baseline' },
        note: b.requests_per_min === null || b.requests_per_min === undefined ? 'No alert recorded a request baseline for this key.' : `Dashed: the key's baseline${src}.` }),
      lineChart({ id: 'tokens', title: 'Tokens per minute', times, unit: '/min',
        series: [{ name: 'tokens/min', cls: 'c1', values: pts.map((p) => p.tokens / perMin) }],
        ref: { value: b.tokens_per_min ?? null, label: 'baseline' },
        note: b.tokens_per_min === null || b.tokens_per_min === undefined ? 'No alert recorded a token baseline for this key (only the flood detector keeps one).' : null }),
      lineChart({ id: 'refusals', title: 'Refusal rate', times, yMax: 1,
        series: [{ name: 'refused share', cls: 'c2', values: pts.map((p) => (p.requests ? p.refusals / p.requests : null)) }] }),
    ];
    const nov = pts.map((p) => p.novelty);
    charts.push(nov.some((v) => v !== null)
      ? lineChart({ id: 'novelty', title: 'Prompt novelty (extraction detector)', times, yMax: 1,
        series: [{ name: 'novelty', cls: 'c3', values: nov, dots: true }],
        note: 'Measured by the extraction detector when it fired; not stored between alerts.' })
      : h('figure', { class: 'chart-box chart-empty', 'data-chart': 'novelty', 'data-points': 0 }, h('figcaption', {}, 'Prompt novelty'),
        h('p', { class: 'muted' }, 'Not measured here: only the extraction detector\'s alerts carry prompt novelty, and none is in this span.')));
    if (lc) charts.unshift(lc);
    draw(...charts);
    Object.assign(box.dataset, { step: String(step), since: iso(t0), until: iso(t1) });
  }, (e) => {
    const failed = h('p', { class: 'muted' }, `The key's traffic charts could not be loaded: ${e.message}`);
    if (lc) draw(lc, failed);
    else box.replaceChildren(h('h2', {}, 'Why it fired'), failed);
  });
  return box;
}
