/**
 * The fleet (browser JavaScript, as text): sites, gateways and devices, one page at a time from
 * the server (`limit`, `nextCursor`), searched and filtered there — the page never loads the
 * fleet. Devices show online state, admission state and versions, with the decisions their state
 * allows (relayed by the aggregator to its gateway): Admit / Reject / Quarantine for a pending one,
 * Quarantine for an admitted one, Release / Reject for a quarantined one.
 */
export const FLEET_SCRIPT = String.raw`
const PAGE = 50;

/**
 * A server-paged table: root holds a tbody, .next, .prev and .count; query() gives the filters;
 * row(item) draws one item. Cursors of the pages seen are kept so Back works.
 */
function pagedList(root, path, query, row) {
  const list = { items: [], cursors: [null], at: 0, next: null };
  list.load = async () => {
    const params = new URLSearchParams(query());
    params.set('limit', String(PAGE));
    const cursor = list.cursors[list.at];
    if (cursor) params.set('cursor', cursor);
    const page = await getJson(path + '?' + params.toString());
    list.items = page.items;
    list.next = page.nextCursor;
    list.total = page.total;
    list.draw();
  };
  list.draw = () => {
    root.querySelector('tbody').replaceChildren(...list.items.map(row));
    const from = list.at * PAGE;
    root.querySelector('.count').textContent = list.items.length === 0 ? t('fleetView.none')
      : t('fleetView.range', { from: from + 1, to: from + list.items.length }) + (list.total !== undefined ? ' / ' + list.total : '');
    root.querySelector('.prev').disabled = list.at === 0;
    root.querySelector('.next').disabled = !list.next;
  };
  list.first = () => { list.cursors = [null]; list.at = 0; return list.load(); };
  root.querySelector('.next').addEventListener('click', () => { if (!list.next) return; list.cursors[list.at + 1] = list.next; list.at++; void list.load().catch(showError); });
  root.querySelector('.prev').addEventListener('click', () => { if (list.at === 0) return; list.at--; void list.load().catch(showError); });
  const again = debounce(() => void list.first().catch(showError), 250);
  for (const input of root.querySelectorAll('input, select')) input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', again);
  return list;
}

const val = (sel) => { const v = $(sel).value.trim(); return v; };
const onlineText = (on) => (on ? t('fleetView.online') : t('fleetView.offline'));
const versionOf = (x) => x.version || x.softwareVersion || x.firmwareVersion || (x.versions ? Object.values(x.versions).join(', ') : '') || '–';

function siteRow(s) {
  const tr = el('tr', { 'data-id': s.id });
  tr.append(td(s.id, { class: 'mono' }), td(s.tsoArea), td(s.poolId));
  return tr;
}
function gatewayRow(g) {
  const tr = el('tr', { 'data-id': g.venId });
  tr.append(td(g.venId, { class: 'mono' }), td(g.resources), td(iso(g.lastReportAt)), td(g.reports), td(g.signed ? '✓' : '–'), td(versionOf(g)));
  return tr;
}
/**
 * After a decision is sent, the device's row follows it: its gateway applies the decision and its
 * next inventory changes the state at the aggregator, which this polls for (one device, once a
 * second, for up to a minute), then redraws the page of devices.
 */
async function followDevice(id, from) {
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const page = await getJson('/api/fleet/devices?' + new URLSearchParams({ q: id, limit: '5' }).toString());
    const d = page.items.find((x) => x.id === id);
    if (d && (d.admission !== from.admission || d.admissionRevision !== from.admissionRevision)) break;
  }
  await fleet.devices.load();
}
/** What the operator typed as a reason per device: the rows are redrawn live, the text stays. */
const typedReasons = new Map();
/** Sends one admission decision on a device; the notice says what was sent, the row follows. */
async function decide(d, decision, body) {
  const sent = await send('POST', '/api/fleet/devices/' + enc(d.id) + '/' + decision, body);
  typedReasons.delete(d.id);
  notice(t('admission.' + decision + 'Done', { id: d.id, gateway: sent.gateway, event: sent.eventId, revision: sent.revision }));
  $('#notice').dataset.device = d.id;
  $('#notice').dataset.state = decision;
  await fleet.devices.load();
  void followDevice(d.id, d).catch(showError);
}
function deviceRow(d) {
  const tr = el('tr', { 'data-id': d.id, 'data-online': String(d.online), 'data-admission': d.admission || '', 'data-revision': d.admissionRevision === null ? '' : d.admissionRevision });
  tr.append(td(d.id, { class: 'mono' }), td(d.gateway, { class: 'mono' }), td(t('resourceClass.' + d.resourceClass, { defaultValue: d.resourceClass })),
    td(kw(d.ratedReduceW) + ' / ' + kw(d.ratedIncreaseW)), td(onlineText(d.online), { class: 'online ' + (d.online ? 'on' : 'off') }),
    td(d.admission ? t('admission.' + d.admission, { defaultValue: d.admission }) : '–', { class: 'admission ' + (d.admission || '') }), td(versionOf(d)));
  const cell = el('td', { class: 'actions' });
  // The actions the device's state allows, of those the operator's role allows (GET /api/me; the server checks again).
  const reason = el('input', { type: 'text', class: 'reason-input', maxlength: 500, placeholder: t('action.reasonPlaceholder') });
  reason.value = typedReasons.get(d.id) || '';
  reason.addEventListener('input', () => { if (reason.value) typedReasons.set(d.id, reason.value); else typedReasons.delete(d.id); });
  const bodies = {
    admit: () => ({ revision: d.admissionRevision }),
    reject: () => ({ reason: reasonOf(reason) }),
    quarantine: () => ({ reason: reasonOf(reason) }),
    release: () => ({ revision: d.admissionRevision, reason: reasonOf(reason) }),
  };
  const states = { pending: ['admit', 'reject', 'quarantine'], admitted: ['quarantine'], quarantined: ['release', 'reject'] };
  const decisions = (states[d.admission] || []).filter((x) => may('POST /api/fleet/devices/:id/' + x));
  // The reason box beside the buttons when one of them takes a reason.
  if (decisions.some((x) => x !== 'admit')) cell.append(reason);
  for (const x of decisions) cell.append(button(t('admission.' + x), x, () => decide(d, x, bodies[x]())));
  tr.appendChild(cell);
  return tr;
}

const fleet = {
  sites: pagedList($('#sites'), '/api/fleet/sites', () => Object.fromEntries([['q', val('#sites-q')], ['pool', val('#sites-pool')]].filter((x) => x[1])), siteRow),
  gateways: pagedList($('#gateways'), '/api/fleet/gateways', () => Object.fromEntries([['q', val('#gateways-q')]].filter((x) => x[1])), gatewayRow),
  devices: pagedList($('#devices'), '/api/fleet/devices', () => Object.fromEntries([['q', val('#devices-q')], ['gateway', val('#devices-gateway')], ['online', $('#devices-online').value]].filter((x) => x[1])), deviceRow),
};
for (const b of document.querySelectorAll('#fleet-tabs button')) {
  b.addEventListener('click', () => {
    for (const other of document.querySelectorAll('#fleet-tabs button')) other.setAttribute('aria-pressed', String(other === b));
    for (const id of ['sites', 'gateways', 'devices']) $('#' + id).hidden = id !== b.dataset.tab;
  });
}
/** The device page again, when the gateways' deltas say something moved (one page, not the fleet). */
const reloadDevices = throttle(() => void fleet.devices.load().catch(showError), 2000);
`;
