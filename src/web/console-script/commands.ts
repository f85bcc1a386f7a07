/**
 * Operator commands (browser JavaScript, as text): the held ones with their details and Approve /
 * Reject buttons (the two-person rule is the server's: the submitter's own approval is refused
 * there and the refusal shown here), and the recent ones with their state — a `short` command
 * (allocated below what was asked) is shown as short with its shortfall, never as done. The form
 * submits a new command (power in kW and duration in minutes, sent in W and ms); the notice says
 * whether it was held for a second operator, executed or short, and the row appears in the lists.
 */
export const COMMANDS_SCRIPT = String.raw`
const commandsById = new Map();

function commandWhat(c) {
  const res = c.command.resources === 'fleet' ? t('command.fleet') : c.command.resources.slice(0, 5).join(', ') + (c.command.resources.length > 5 ? ' … (' + c.command.resources.length + ')' : '');
  return t('command.action.' + c.command.action, { defaultValue: c.command.action }) + ' ' + kw(c.command.powerW) + ' · ' + res + ' · ' + t('command.minutes', { n: Math.round(c.command.durationMs / 60000) });
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
  tr.append(td(iso(c.submittedAt)), td(c.submittedBy.id + (c.approvedBy ? ' + ' + c.approvedBy.id : '')), td(commandWhat(c)), td(commandState(c), { class: 'cstate ' + c.state }), td(c.command.reason));
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

/** The command the form describes, as POST /commands takes it (W, ms; resources "fleet" or ids). */
function commandOfForm() {
  const action = $('#command-action').value;
  const ids = $('#command-resources').value.split(/[\s,]+/).filter(Boolean);
  const num = (sel) => Number($(sel).value || '0');
  return {
    action,
    powerW: action === 'release' ? 0 : Math.round(num('#command-power') * 1000),
    resources: ids.length === 1 && ids[0] === 'fleet' ? 'fleet' : ids,
    durationMs: action === 'release' ? 0 : Math.round(num('#command-duration') * 60000),
    reason: $('#command-reason').value.trim(),
  };
}
/** One sentence on a submitted command: held, executed or SHORT. */
function commandOutcomeText(rec) {
  if (rec.state === 'held') return t('newCommand.held', { id: rec.id, why: rec.needsSecondBecause || '' });
  if (rec.state === 'short') return t('newCommand.short', { id: rec.id, allocated: kw(rec.allocatedW), requested: kw(rec.command.powerW), shortfall: kw(rec.shortfallW) });
  return t('newCommand.executed', { id: rec.id, state: commandState(rec), allocated: kw(rec.allocatedW) });
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
