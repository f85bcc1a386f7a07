/**
 * The per-event view (browser JavaScript, as text): target vs instructed vs delivered as figures
 * and as an SVG chart over JST time, what is uncovered and why, who asked for it (the upstream
 * party, or the operators who submitted and approved the command), start and end with コマ, and a
 * Cancel button while the event runs. Cards are kept per key and redrawn from live deltas.
 */
export const EVENTS_SCRIPT = String.raw`
const eventsByKey = new Map();
const seriesByKey = new Map();
const seriesAsked = new Map();

/** Target (dashed), instructed (dotted) and delivered (solid) power of one event, kW over JST time. */
function chart(samples) {
  const W = 640, H = 220, L = 56, R = 12, T = 12, B = 28;
  const svg = el('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': t('chart.label'), class: 'chart' });
  if (!samples || samples.length === 0) { svg.appendChild(el('svg:text', { x: L, y: H / 2 }, t('chart.waiting'))); return svg; }
  const t0 = samples[0].t, t1 = Math.max(samples[samples.length - 1].t, t0 + 1);
  // Axis ticks at 1, 2 or 5 × 10^k kW so that the labels are exact.
  const peak = Math.max(1, ...samples.map((s) => Math.max(s.targetW, s.instructedW || 0, s.deliveredW || 0))) * 1.05;
  const raw = peak / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  const max = step * 4;
  const x = (tt) => L + ((tt - t0) / (t1 - t0)) * (W - L - R);
  const y = (w) => T + (1 - w / max) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const w = (max * i) / 4;
    svg.appendChild(el('svg:line', { x1: L, x2: W - R, y1: y(w), y2: y(w), class: 'grid' }));
    svg.appendChild(el('svg:text', { x: L - 6, y: y(w) + 4, 'text-anchor': 'end', class: 'axis' }, String(+(w / 1000).toFixed(3))));
  }
  svg.appendChild(el('svg:text', { x: 4, y: T + 8, class: 'axis' }, t('chart.axis')));
  svg.appendChild(el('svg:text', { x: L, y: H - 8, class: 'axis', 'data-t': iso(t0) }, hhmm(t0) + ' ' + t('chart.time')));
  svg.appendChild(el('svg:text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'axis', 'data-t': iso(t1) }, hhmm(t1) + ' ' + t('chart.time')));
  const line = (key, cls) => {
    const pts = samples.filter((s) => s[key] !== null && s[key] !== undefined).map((s) => x(s.t).toFixed(1) + ',' + y(s[key]).toFixed(1));
    if (pts.length) svg.appendChild(el('svg:polyline', { points: pts.join(' '), class: cls, 'data-series': key }));
  };
  line('targetW', 'target'); line('instructedW', 'instructed'); line('deliveredW', 'delivered');
  return svg;
}

function komaSpan(start, end) {
  const a = koma(start), b = koma(Math.max(start, end - 1));
  return a === b ? String(a) : a + '–' + b;
}

/** Who asked for the event: the operators behind an operator command, else the upstream party. */
function eventOrigin(e) {
  if (e.key.startsWith('operator/')) {
    const c = commandsById.get(e.key.slice('operator/'.length));
    if (c) {
      const by = c.approvedBy ? t('event.approvedBy', { by: c.submittedBy.id, approver: c.approvedBy.id }) : c.submittedBy.id;
      return t('event.byOperator', { by, reason: c.command.reason });
    }
  }
  return t('event.byParty', { party: e.party });
}

/** Why delivered or instructed falls below the target, in words. */
function eventShortfall(e) {
  const why = [];
  if (e.uncoveredW > 0) why.push(t('event.uncovered', { kw: kw(e.uncoveredW) }));
  if (e.nonResponding.length) why.push(t('event.nonRespondingList', { ids: e.nonResponding.slice(0, 10).join(', '), count: e.nonResponding.length }));
  return why.join(' · ');
}

function eventCard(e) {
  const short = e.uncoveredW > 0;
  const card = el('section', { class: 'event' + (short ? ' short' : ''), 'data-key': e.key, 'data-state': e.state });
  card.appendChild(el('h2', {}, e.party + ' · ' + e.eventId + ' · ' + t('direction.' + e.direction) + ' ' + kw(e.targetW)));
  if (Number.isFinite(e.start) && Number.isFinite(e.end)) card.appendChild(el('p', { class: 'period' }, t('event.period', { start: iso(e.start), end: iso(e.end), koma: komaSpan(e.start, e.end) })));
  const pct = e.deliveredW !== null && e.targetW > 0 ? Math.round((e.deliveredW / e.targetW) * 100) + '%' : '–';
  const state = t('event.state.' + e.state, { defaultValue: e.state });
  card.appendChild(el('p', { class: 'state ' + e.state }, t('event.line', { state, delivered: kw(e.deliveredW), pct, resources: e.resources, gateways: e.gateways })
    + (e.nonResponding.length ? t('event.nonResponding', { count: e.nonResponding.length }) : '')));
  const figures = el('table', { class: 'figures' });
  const head = el('tr');
  for (const k of ['target', 'instructed', 'delivered', 'uncovered']) head.appendChild(el('th', {}, t('event.col.' + k)));
  const row = el('tr');
  row.appendChild(td(kw(e.targetW), { 'data-f': 'target' }));
  row.appendChild(td(kw(e.instructedW), { 'data-f': 'instructed' }));
  row.appendChild(td(kw(e.deliveredW), { 'data-f': 'delivered' }));
  row.appendChild(td(kw(e.uncoveredW), { 'data-f': 'uncovered', class: short ? 'short' : '' }));
  figures.append(head, row);
  card.appendChild(figures);
  card.appendChild(el('p', { class: 'origin' }, eventOrigin(e)));
  const why = eventShortfall(e);
  if (why) card.appendChild(el('p', { class: 'reason short' }, (short ? t('event.shortLabel') + ' ' : '') + why));
  if ((e.state === 'active' || e.state === 'accepted') && may('POST /api/events/:key/cancel')) {
    const reason = el('input', { type: 'text', class: 'reason-input', maxlength: 500, placeholder: t('action.reasonPlaceholder') });
    const cancel = button(t('event.cancel'), 'cancel', async () => {
      await send('POST', '/api/events/' + enc(e.key) + '/cancel', { reason: reasonOf(reason) });
      notice(t('event.cancelled', { key: e.key }));
    });
    const p = el('p', { class: 'actions' });
    p.append(reason, cancel);
    card.appendChild(p);
  }
  card.appendChild(chart(seriesByKey.get(e.key)));
  return card;
}

function drawEvent(e) {
  const box = $('#events');
  const old = box.querySelector('section.event[data-key="' + CSS.escape(e.key) + '"]');
  const card = eventCard(e);
  if (old) old.replaceWith(card);
  else {
    const empty = box.querySelector('p.muted');
    if (empty) empty.remove();
    box.prepend(card);
  }
}

/** The series of one event, at most once a second per event (deltas come faster). */
async function loadSeries(key) {
  const now = Date.now();
  if (now - (seriesAsked.get(key) || 0) < 1000) return;
  seriesAsked.set(key, now);
  try {
    seriesByKey.set(key, await getJson('/events/' + enc(key) + '/series'));
    const e = eventsByKey.get(key);
    if (e) drawEvent(e);
  } catch (err) { /* the event card stays; the next delta asks again */ }
}

function upsertEvent(e) {
  eventsByKey.set(e.key, e);
  drawEvent(e);
  if (e.state === 'active' || !seriesByKey.has(e.key)) void loadSeries(e.key);
}
function removeEvent(key) {
  eventsByKey.delete(key);
  const old = $('#events').querySelector('section.event[data-key="' + CSS.escape(key) + '"]');
  if (old) old.remove();
}
function drawEvents() {
  const box = $('#events');
  box.replaceChildren();
  if (eventsByKey.size === 0) box.appendChild(el('p', { class: 'muted' }, t('noEvents')));
  for (const e of [...eventsByKey.values()].sort((a, b) => a.start - b.start)) drawEvent(e);
}
/** Every event, page by page (events are few; the fleet is not). */
async function loadEvents() {
  eventsByKey.clear();
  let cursor = null;
  do {
    const page = await getJson('/api/events?limit=500' + (cursor ? '&cursor=' + enc(cursor) : ''));
    for (const e of page.items) eventsByKey.set(e.key, e);
    cursor = page.nextCursor;
  } while (cursor);
  drawEvents();
  for (const key of eventsByKey.keys()) void loadSeries(key);
}
`;
