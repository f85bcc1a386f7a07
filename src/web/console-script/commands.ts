/**
 * Operator commands (browser JavaScript, as text): the held ones with their details and Approve /
 * Reject buttons (the two-person rule is the server's: the submitter's own approval is refused
 * there and the refusal shown here), and the recent ones with their state — a `short` command
 * (allocated below what was asked) is shown as short with its shortfall, never as done. The form
 * submits a new command (power in kW and duration in minutes, sent in W and ms; resources typed, or
 * a pool of the fleet chosen; an optional start, datetime-local read as JST); the notice says
 * whether it was held for a second operator, executed or short, and when it starts if later, and
 * the row appears in the lists.
 */
export const COMMANDS_SCRIPT = String.raw`
const commandsById = new Map();

function commandResources(r) {
  if (r === 'fleet') return t('command.fleet');
  if (!Array.isArray(r)) return t('command.pool', { pool: r.pool });
  return r.slice(0, 5).join(', ') + (r.length > 5 ? ' … (' + r.length + ')' : '');
}
/** When a command's event starts, in JST with its コマ ('' when it starts as it runs). */
function commandStart(c) {
  return Number.isFinite(c.command.startAt) ? t('command.startsAt', { start: iso(c.command.startAt), koma: koma(c.command.startAt) }) : '';
}
function commandWhat(c) {
  const start = commandStart(c);
  return t('command.action.' + c.command.action, { defaultValue: c.command.action }) + ' ' + kw(c.command.powerW) + ' · ' + commandResources(c.command.resources) + ' · ' + t('command.minutes', { n: Math.round(c.command.durationMs / 60000) }) + (start ? ' · ' + start : '');
}

function commandState(c) {
  if (c.state === 'short') return t('command.short', { allocated: kw(c.allocatedW), requested: kw(c.command.powerW), shortfall: kw(c.shortfallW) });
  return t('command.state.' + c.state, { defaultValue: c.state });
}

function heldRow(c) {
  const tr = el('tr', { 'data-id': c.id });
  tr.append(td(c.id, { class: 'mono' }), td(iso(c.submittedAt)), td(c.submittedBy.id), td(commandWhat(c)), td(c.command.reason), td(c.needsSecondBecause || ''), td(iso(c.expiresAt)));
  const reason = el('input', { type: 'text', class: 'reason-input', maxlength: 500, placeholder: t('action.reasonPlaceholder') });
  const cell = el('td', { class: 'actions' });
  // Only the actions the operator's role allows (GET /api/me); the two-person rule is the server's.
  if (may('POST /commands/:id/approve')) cell.append(
    button(t('command.approve'), 'approve', async () => {
      const out = await send('POST', '/commands/' + enc(c.id) + '/approve', {});
      commandsById.set(out.record.id, out.record);
      drawCommands();
      notice(t('command.approved', { id: c.id, state: commandState(out.record) }), out.record.state === 'short');
    }),
  );
  if (may('POST /commands/:id/reject')) cell.append(
    reason,
    button(t('command.reject'), 'reject', async () => {
      const rec = await send('POST', '/commands/' + enc(c.id) + '/reject', { reason: reasonOf(reason) });
      commandsById.set(rec.id, rec);
      drawCommands();
      notice(t('command.rejected', { id: c.id }));
    }),
  );
  tr.appendChild(cell);
  return tr;
}

function recentRow(c) {
  const tr = el('tr', { 'data-id': c.id, 'data-state': c.state });
  tr.append(td(iso(c.submittedAt)), td(c.submittedBy.id + (c.approvedBy ? ' + ' + c.approvedBy.id : '')), td(commandWhat(c)), td(commandState(c), { class: 'cstate ' + c.state, ...(c.failure ? { title: c.failure } : {}) }), td(c.command.reason));
  return tr;
}

function drawCommands() {
  const all = [...commandsById.values()].sort((a, b) => b.submittedAt - a.submittedAt);
  const held = all.filter((c) => c.state === 'held');
  $('#held tbody').replaceChildren(...held.map(heldRow));
  $('#held-none').hidden = held.length > 0;
  $('#held').hidden = held.length === 0;
  $('#recent tbody').replaceChildren(...all.filter((c) => c.state !== 'held').slice(0, 20).map(recentRow));
  drawHeader();
}

function upsertCommand(c) {
  commandsById.set(c.id, c);
  drawCommands();
  // An operator event's card names the command's operators and reason.
  const e = eventsByKey.get('operator/' + c.id);
  if (e) drawEvent(e);
}
function removeCommand(id) {
  commandsById.delete(id);
  drawCommands();
}
async function loadCommands() {
  commandsById.clear();
  const held = await getJson('/api/commands?state=held&limit=500');
  const recent = await getJson('/api/commands?limit=100');
  for (const c of [...recent.items, ...held.items]) commandsById.set(c.id, c);
  drawCommands();
}

/** The pools the fleet knows, as the form's choices (GET /api/fleet/pools: id and size). */
async function loadPools() {
  const select = $('#command-pool');
  const chosen = select.value;
  let pools = [];
  try { pools = (await getJson('/api/fleet/pools')).items; } catch (err) { pools = []; }
  select.replaceChildren(select.options[0], ...pools.map((p) => el('option', { value: p.id }, p.id + ' (' + p.resources + ')')));
  select.value = pools.some((p) => p.id === chosen) ? chosen : '';
  drawPoolChoice();
}
/** A pool chosen replaces the resources typed. */
function drawPoolChoice() { $('#command-resources').disabled = $('#command-pool').value !== ''; }
$('#command-pool').addEventListener('change', drawPoolChoice);

/** The form's start (datetime-local, read as JST) as ISO 8601 with +09:00, or undefined when empty. */
function startOfForm() {
  const v = $('#command-start').value;
  if (!v) return undefined;
  return (v.length === 16 ? v + ':00' : v) + '+09:00';
}

/** The command the form describes, as POST /commands takes it (W, ms; resources "fleet", ids or a pool; a later start). */
function commandOfForm() {
  const action = $('#command-action').value;
  const ids = $('#command-resources').value.split(/[\s,]+/).filter(Boolean);
  const pool = $('#command-pool').value;
  const num = (sel) => Number($(sel).value || '0');
  const startAt = action === 'release' ? undefined : startOfForm();
  return {
    action,
    powerW: action === 'release' ? 0 : Math.round(num('#command-power') * 1000),
    resources: pool ? { pool } : ids.length === 1 && ids[0] === 'fleet' ? 'fleet' : ids,
    durationMs: action === 'release' ? 0 : Math.round(num('#command-duration') * 60000),
    ...(startAt ? { startAt } : {}),
    reason: $('#command-reason').value.trim(),
  };
}
/** One sentence on a submitted command: held, executed or SHORT; and when it starts, if later. */
function commandOutcomeText(rec) {
  const start = Number.isFinite(rec.command.startAt) ? ' ' + t('newCommand.starts', { start: iso(rec.command.startAt), koma: koma(rec.command.startAt) }) : '';
  if (rec.state === 'held') return t('newCommand.held', { id: rec.id, why: rec.needsSecondBecause || '' }) + start;
  if (rec.state === 'short') return t('newCommand.short', { id: rec.id, allocated: kw(rec.allocatedW), requested: kw(rec.command.powerW), shortfall: kw(rec.shortfallW) }) + start;
  return t('newCommand.executed', { id: rec.id, state: commandState(rec), allocated: kw(rec.allocatedW) }) + start;
}
$('#command-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const submit = $('#command-submit');
  submit.disabled = true;
  try {
    const out = await send('POST', '/commands', commandOfForm());
    upsertCommand(out.record);
    const n = $('#notice');
    notice(commandOutcomeText(out.record), out.record.state === 'short');
    n.dataset.command = out.record.id;
    n.dataset.state = out.record.state;
  } catch (err) {
    notice(err.message, true);
  } finally {
    submit.disabled = false;
  }
});
`;
