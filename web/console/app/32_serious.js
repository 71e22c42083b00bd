// ---- one incident: its EU AI Act Art. 73 line (serious incidents) ----

// "Serious incident (Art. 73(3), critical infrastructure): report due
// <time>, in 1 d 4 h" (or "… 3 h 05 min overdue", or which report is filed);
// null when the incident is not marked serious. Text nodes only.
function seriousLine(inc) {
  const s = inc.serious;
  if (!s) return null;
  const left = new Date(s.deadline_at).getTime() - Date.now();
  let rel;
  if (s.state === 'complete_report_filed') rel = 'complete report filed';
  else if (s.state === 'initial_report_filed') rel = 'initial report filed, the complete one to follow';
  else rel = left > 0 ? `in ${leftText(left)}` : `${leftText(-left)} overdue`;
  return h('p', { class: `serious-note serious-${s.state}`, id: 'serious-note' },
    `Serious incident (Art. ${s.article}, ${s.category_label}): report due `, localTime(s.deadline_at), `, ${rel}`);
}
