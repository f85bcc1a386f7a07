/**
 * Panels (browser JavaScript, as text): alerts with Acknowledge, incidents, vulnerability
 * findings and compliance status from the routes other modules contribute — a panel whose route
 * this listener does not serve (absent from /openapi.json, or answered 404) stays hidden — and
 * the audit log browser with the log's verification result, and the refusals (dispatch, TLS,
 * request).
 */
export const PANELS_SCRIPT = String.raw`
let servedPaths;
/** The paths this listener serves, from its OpenAPI document (undefined: ask each route). */
async function loadServedPaths() {
  try { servedPaths = new Set(Object.keys((await getJson('/openapi.json')).paths)); } catch (err) { servedPaths = undefined; }
}

/** Fills a contributed panel, or hides it when its route is not there. */
async function panel(id, path, draw) {
  const box = $('#' + id);
  const route = path.split('?')[0];
  if (servedPaths && !servedPaths.has(route)) { box.hidden = true; return; }
  try {
    draw(box.querySelector('.body'), await getJson(path));
    box.hidden = false;
  } catch (err) {
    if (err.status === 404) { box.hidden = true; return; }
    box.hidden = false;
    box.querySelector('.body').replaceChildren(el('p', { class: 'muted' }, err.status === 403 ? t('panel.forbidden') : t('error', { message: err.message })));
  }
}

function table(heads, rows) {
  const tb = el('table');
  const h = el('tr');
  for (const k of heads) h.appendChild(el('th', {}, t(k)));
  tb.appendChild(h);
  for (const r of rows) tb.appendChild(r);
  return tb;
}

function drawAlerts(body, page) {
  if (page.items.length === 0) { body.replaceChildren(el('p', { class: 'muted' }, t('alerts.none'))); return; }
  body.replaceChildren(table(['col.time', 'alerts.severity', 'alerts.summary', 'alerts.status', ''], page.items.map((a) => {
    const tr = el('tr', { 'data-id': a.id, class: 'sev-' + a.severity });
    const text = a.description && a.description[i18next.language] ? a.description[i18next.language] : a.summary;
    tr.append(td(iso(a.raisedAt)), td(t('alerts.sev.' + a.severity, { defaultValue: a.severity })), td(text), td(a.status === 'acknowledged' ? t('alerts.acked', { by: a.ackedBy || '?' }) : t('alerts.open')));
    const cell = el('td', { class: 'actions' });
    if (a.status !== 'acknowledged' && may('POST /api/alerts/:id/ack')) cell.appendChild(button(t('alerts.ack'), 'ack', async () => {
      await send('POST', '/api/alerts/' + enc(a.id) + '/ack', {});
      notice(t('alerts.ackDone', { id: a.id }));
      await loadPanels();
    }));
    tr.appendChild(cell);
    return tr;
  })));
}
function drawIncidents(body, page) {
  const items = page.items || [];
  if (items.length === 0) { body.replaceChildren(el('p', { class: 'muted' }, t('incidents.none'))); return; }
  body.replaceChildren(table(['col.time', 'incidents.what', 'incidents.status'], items.map((i) => {
    const tr = el('tr', { 'data-id': i.id });
    tr.append(td(isoOf(i.openedAt || i.createdAt || i.at)), td(i.title || i.summary || i.kind || i.id), td(i.status || i.state));
    return tr;
  })));
}
function drawFindings(body, page) {
  if (page.items.length === 0) { body.replaceChildren(el('p', { class: 'muted' }, t('vuln.none'))); return; }
  body.replaceChildren(table(['vuln.advisory', 'vuln.asset', 'vuln.severity', 'vuln.status'], page.items.map((f) => {
    const tr = el('tr', { 'data-id': f.id });
    tr.append(td(f.advisoryId || f.advisory || f.cve || f.id), td(f.assetId || f.asset || ''), td(f.severity || f.cvss || ''), td(f.status));
    return tr;
  })));
}
function drawCompliance(body, doc) {
  const parts = [el('p', {}, t('compliance.run', { at: isoOf(doc.at), run: doc.runId }))];
  if (doc.counts) parts.push(el('p', { class: 'counts' }, Object.entries(doc.counts).map(([k, v]) => t('compliance.status.' + k, { defaultValue: k }) + ': ' + v).join(' · ')));
  const failing = doc.failingKankoku || [];
  parts.push(el('p', { class: failing.length ? 'short' : 'good' }, failing.length ? t('compliance.failing', { ids: failing.join(', ') }) : t('compliance.allMet')));
  body.replaceChildren(...parts);
}

async function loadPanels() {
  await Promise.all([
    panel('alerts', '/api/alerts?limit=20', drawAlerts),
    panel('incidents', '/api/incidents?limit=20', drawIncidents),
    panel('vuln', '/api/vuln/findings?limit=20', drawFindings),
    panel('compliance', '/api/compliance/status', drawCompliance),
  ]);
}

// The audit log browser: pages newest first, an action (or prefix ending in ".") and outcome filter.
const audit = { cursors: [null], at: 0, next: null };
async function loadAudit() {
  const params = new URLSearchParams({ limit: '50' });
  const action = $('#audit-action').value.trim();
  if (action) params.set('action', action);
  if ($('#audit-outcome').value) params.set('outcome', $('#audit-outcome').value);
  if (audit.cursors[audit.at]) params.set('cursor', audit.cursors[audit.at]);
  const page = await getJson('/api/audit?' + params.toString());
  audit.next = page.nextCursor;
  const v = page.verification;
  const status = $('#audit-verification');
  status.className = v.ok === true ? 'good' : v.ok === false ? 'bad' : 'muted';
  status.textContent = v.ok === true ? t('audit.verified', { records: v.records, valid: v.checkpoints.valid, total: v.checkpoints.total, unanchored: v.unanchored, at: iso(v.checkedAt) })
    : v.ok === false ? t('audit.failed', { problems: v.problems.join('; ') }) : t('audit.unverifiable', { why: v.problems.join('; ') });
  $('#audit tbody').replaceChildren(...page.items.map((e) => {
    const tr = el('tr', { 'data-index': e.index, class: e.outcome });
    tr.append(td(e.index), td(iso(e.time)), td(e.actor.id + (e.actor.role ? ' (' + e.actor.role + ')' : '')), td(e.action, { class: 'mono' }), td(e.target || ''), td(t('audit.outcome.' + e.outcome, { defaultValue: e.outcome })), td(e.reason || ''));
    return tr;
  }));
  $('#audit .prev').disabled = audit.at === 0;
  $('#audit .next').disabled = !audit.next;
}
$('#audit .next').addEventListener('click', () => { if (!audit.next) return; audit.cursors[audit.at + 1] = audit.next; audit.at++; void loadAudit().catch(showError); });
$('#audit .prev').addEventListener('click', () => { if (audit.at === 0) return; audit.at--; void loadAudit().catch(showError); });
const auditAgain = debounce(() => { audit.cursors = [null]; audit.at = 0; void loadAudit().catch(showError); }, 250);
$('#audit-action').addEventListener('input', auditAgain);
$('#audit-outcome').addEventListener('change', auditAgain);

async function loadRefusals() {
  const kind = $('#refusals-kind').value;
  const page = await getJson('/api/refusals?limit=50' + (kind ? '&kind=' + kind : ''));
  $('#refusals tbody').replaceChildren(...page.items.map((r) => {
    const tr = el('tr', { 'data-kind': r.kind });
    tr.append(td(iso(r.time)), td(r.by), td(r.what), td(r.reason), td(t('refusal.kind.' + r.kind, { defaultValue: r.kind })));
    return tr;
  }));
}
$('#refusals-kind').addEventListener('change', () => void loadRefusals().catch(showError));
`;
