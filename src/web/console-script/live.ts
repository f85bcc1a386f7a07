/**
 * The header, the language switch and live updates (browser JavaScript, as text). The page reads
 * the lists once, then applies the deltas of /api/events/stream (server-sent events: `hello`,
 * then {op: upsert|remove, id, value} per changed event, command or gateway) to what it holds;
 * deltas that arrive while the lists load are kept and applied after. After a reconnect (a new
 * `hello`) the lists are read again, since deltas may have been missed in between.
 */
export const LIVE_SCRIPT = String.raw`
let status;
let serverOffset = 0;

function showError(err) { $('#error').textContent = t('error', { message: err.message }); }

function drawHeader() {
  if (!status) return;
  $('#who').textContent = status.id;
  document.title = t('title', { id: status.id });
  const pending = [...commandsById.values()].filter((c) => c.state === 'held').length;
  $('#fleet').textContent = t('fleet', { online: status.resources.online, total: status.resources.total, gateways: status.gateways, pending });
}
/** The operator and role in the header; the command form only for a role that may submit. */
function drawMe() {
  const who = $('#me');
  const form = $('#command-form');
  const why = $('#command-form-role');
  form.hidden = !may('POST /commands');
  why.hidden = !form.hidden;
  if (!me) { who.textContent = ''; return; }
  who.textContent = t('me.who', { id: me.id, role: me.role });
  who.dataset.id = me.id;
  who.dataset.role = me.role;
  why.textContent = t('me.needs', { what: t('newCommand.title'), role: me.needs['POST /commands'], id: me.id, held: me.role });
}
/** The header's counts (/api/summary: small whatever the fleet's size; /status carries every gateway). */
async function loadStatus() {
  status = await getJson('/api/summary');
  serverOffset = status.time - Date.now();
  drawHeader();
  $('#clock').textContent = iso(Date.now() + serverOffset);
}
const reloadStatus = throttle(() => void loadStatus().catch(showError), 1000);
const reloadRefusals = throttle(() => void loadRefusals().catch(showError), 1000);

/** The page's fixed text (elements with data-i18n / data-i18n-placeholder) in the current language. */
function applyLanguage() {
  document.documentElement.lang = i18next.language;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-placeholder]')) e.setAttribute('placeholder', t(e.dataset.i18nPlaceholder));
  document.title = t('title', { id: $('#who').textContent });
  for (const b of document.querySelectorAll('#lang button')) b.setAttribute('aria-pressed', String(b.dataset.lang === i18next.language));
}
/** Everything drawn from what the page holds, in the current language (no request). */
function redraw() {
  applyLanguage();
  drawHeader();
  drawMe();
  drawCommands();
  drawEvents();
  for (const l of Object.values(fleet)) l.draw();
  void loadPanels();
  void loadAudit().catch(showError);
  void loadRefusals().catch(showError);
}
for (const b of document.querySelectorAll('#lang button')) {
  b.addEventListener('click', () => {
    i18next.changeLanguage(b.dataset.lang);
    const u = new URL(location.href);
    u.searchParams.set('lang', b.dataset.lang);
    history.replaceState(null, '', u);
    redraw();
  });
}

const APPLY = {
  event: (d) => (d.op === 'upsert' ? upsertEvent(d.value) : removeEvent(d.id)),
  command: (d) => (d.op === 'upsert' ? upsertCommand(d.value) : removeCommand(d.id)),
  gateway: () => { reloadStatus(); reloadDevices(); },
};
let held = null; // deltas waiting for the lists to load
function onDelta(kind, m) {
  const d = JSON.parse(m.data);
  if (held) { held.push([kind, d]); return; }
  APPLY[kind](d);
  if (kind !== 'gateway') reloadStatus();
  if (kind === 'event' && d.value && d.value.state === 'refused') reloadRefusals();
}
async function loadAll() {
  held = [];
  try {
    // Who the operator is first (a small answer): the rows show only the actions the role allows.
    await loadMe();
    // The first device page next, alone: the server answers it before the heavier readings.
    await fleet.devices.first();
    await Promise.all([loadServedPaths(), loadCommands().then(loadEvents), loadStatus(), loadPools()]);
    $('#error').textContent = '';
    const waiting = held;
    held = null;
    for (const [kind, d] of waiting) APPLY[kind](d);
    await Promise.all([fleet.sites.first(), fleet.gateways.first(), loadPanels(), loadAudit(), loadRefusals()]);
  } catch (err) {
    held = null;
    showError(err);
  }
}

/** Commands, events and the header again, keeping the deltas that arrive meanwhile. */
async function reloadStreamed() {
  while (held) await new Promise((r) => setTimeout(r, 50)); // the first reading is still under way
  held = [];
  try {
    await Promise.all([loadCommands().then(loadEvents), loadStatus()]);
  } catch (err) { showError(err); }
  const waiting = held;
  held = null;
  for (const [kind, d] of waiting) APPLY[kind](d);
}

function live() {
  const stream = new EventSource('/api/events/stream');
  let hellos = 0;
  stream.addEventListener('hello', () => {
    $('#live').textContent = t('live.on');
    $('#live').className = 'on';
    // The lists were read at start, perhaps before the stream's baseline: the streamed ones (commands,
    // events, the header) are read again now; after a reconnect, everything.
    if (++hellos > 1) void loadAll();
    else void reloadStreamed();
  });
  for (const kind of Object.keys(APPLY)) stream.addEventListener(kind, (m) => onDelta(kind, m));
  stream.addEventListener('error', () => {
    $('#live').textContent = t('live.off');
    $('#live').className = 'off';
  });
}
applyLanguage();
// The stream and the lists at once: the first device page does not wait for the stream's hello.
live();
void loadAll();
// The clock runs locally from the server's time; the panels that have no stream are read again
// now and then (alerts, findings, compliance, refusals, the audit log), the lists never.
setInterval(() => { $('#clock').textContent = iso(Date.now() + serverOffset); }, 1000);
setInterval(() => { void loadPanels(); void loadRefusals().catch(() => {}); if (audit.at === 0) void loadAudit().catch(() => {}); }, 30000);
`;
